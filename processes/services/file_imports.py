"""
File imports: processes of mode `files` or `iiif` that turn data files into pages on IIIF images
(seed 002, "File imports").

A file import reads data files of one corpus (`Process.files`, in the order given) and creates one
page (`element_type`) per image they list, with a zone covering the whole image. The pages go into
the folder `element` when there is one; with a `folder_type`, each data file becomes a new folder
of that type (under `element` when set, else at the top level), named after the file or its
manifest's label. Its single task (`ponos.tasks.file_import`) downloads each data file through its signed
URL and calls the API with its token, as the process's creator: CreateIIIFURL, then CreateElement.

What a data file may hold, in both modes: a list of IIIF image URLs (text, one per line,
optionally followed by the page's name), or JSON (a list of such URLs, or a IIIF Presentation 2 or 3
manifest, whose canvases become pages). This instance has no image server of its own, so uploaded
images and PDFs cannot become IIIF images: such files are refused with a message saying so, in the
`files` mode as in the `iiif` one; the two modes import the same lists.

`files_process_create` checks every rule at once (400 naming each), the creator being a
contributor on the files' corpus (403); the process is then started by the scheduler app
(`ponos.services.process_start`), whose checks include `file_import_errors`.
"""

from django.db import transaction
from django.dispatch import receiver
from rest_framework.exceptions import ValidationError

from documents.models import DataFile, Element, ElementType, ImageStatus
from documents.selectors import check_corpus_level, corpus_level_subquery
from processes.models import Process, ProcessMode
from processes.signals import process_deleting
from users.models import Role

FILE_IMPORT_MODES = (ProcessMode.Files, ProcessMode.IIIF)
# Lists of IIIF image URLs, as text or JSON (IIIF manifests included), by MIME type without parameters.
IMPORTABLE_CONTENT_TYPES = ("text/plain", "text/uri-list", "application/json", "application/ld+json")
# The task receives the data files' IDs in its environment: a few hundred at most.
MAX_FILES = 500
PROCESS_FILES = Process.files.through._meta.db_table
NO_IMAGE_SERVER = (
    "This instance has no image server: uploaded images and PDFs cannot become IIIF images. Serve them with a "
    "IIIF image server, and import a list of their URLs (text, one per line) or a IIIF manifest instead."
)


def base_content_type(content_type):
    return content_type.split(";")[0].strip().lower()


def data_file_errors(data_file):
    """Why one data file cannot be imported, as messages naming it."""
    label = f"Data file {data_file.name} ({data_file.id})"
    errors = []
    if data_file.status != ImageStatus.Checked:
        errors.append(f"{label} is {data_file.status}: upload its whole content before importing it.")
    content_type = base_content_type(data_file.content_type)
    if content_type not in IMPORTABLE_CONTENT_TYPES:
        if content_type.startswith("image/") or content_type == "application/pdf":
            reason = NO_IMAGE_SERVER
        else:
            reason = (
                f"an import reads lists of IIIF image URLs or IIIF manifests ({', '.join(IMPORTABLE_CONTENT_TYPES)})."
            )
        errors.append(f"{label} is {data_file.content_type}: {reason}")
    return errors


def _resolve_types(corpus, element_type, folder_type, errors):
    slugs = {slug for slug in (element_type, folder_type) if slug}
    types = {t.slug: t for t in ElementType.objects.filter(corpus_id=corpus.id, slug__in=slugs)}
    page_type = types.get(element_type)
    if page_type is None:
        errors["element_type"] = [f"No element type with slug '{element_type}' in corpus {corpus.name}."]
    folder = None
    if folder_type:
        folder = types.get(folder_type)
        if folder is None:
            errors["folder_type"] = [f"No element type with slug '{folder_type}' in corpus {corpus.name}."]
        elif not folder.folder:
            errors["folder_type"] = [f"The type '{folder_type}' is not a folder type: pick a folder type."]
    return page_type, folder


def _resolve_folder(corpus, folder_id, errors):
    folder = Element.objects.select_related("type").filter(pk=folder_id, corpus_id=corpus.id).first()
    if folder is None:
        errors["folder_id"] = [f"No element {folder_id} in corpus {corpus.name}."]
    elif not folder.type.folder:
        errors["folder_id"] = [
            f"Element {folder.name} ({folder.id}) is a {folder.type.display_name}, not a folder: pick a folder."
        ]
    return folder


def files_process_create(
    *, user, mode, file_ids, element_type, folder_id=None, folder_type=None, farm_id=None, name=None
):
    """
    A new, unstarted file import of `mode` reading the data files `file_ids` (in that order, each
    once) into pages of type `element_type`, in the folder `folder_id` and/or new folders of type
    `folder_type`. 400 naming every broken rule; 403 when `user` is not a contributor on the
    files' corpus.
    """
    if mode not in FILE_IMPORT_MODES:
        raise ValidationError({"mode": [f"A file import has the mode {' or '.join(FILE_IMPORT_MODES)}."]})
    file_ids = list(dict.fromkeys(file_ids))
    if not file_ids:
        raise ValidationError({"files": ["Send the IDs of the data files to import."]})
    if len(file_ids) > MAX_FILES:
        raise ValidationError({"files": [f"An import reads at most {MAX_FILES} data files: split it."]})

    found = {
        data_file.id: data_file
        for data_file in DataFile.objects.select_related("corpus")
        .annotate(corpus_level=corpus_level_subquery(user, "corpus_id"))
        .filter(pk__in=file_ids)
        if data_file.corpus_level >= Role.GUEST
    }
    missing = [str(file_id) for file_id in file_ids if file_id not in found]
    if missing:
        raise ValidationError({"files": [f"No data file {', '.join(missing)}, or you have no access to it."]})
    files = [found[file_id] for file_id in file_ids]
    corpora = {data_file.corpus_id for data_file in files}
    if len(corpora) > 1:
        raise ValidationError(
            {"files": ["The data files of an import belong to one corpus: import each corpus's apart."]}
        )
    corpus = files[0].corpus
    check_corpus_level(
        files[0].corpus_level, Role.CONTRIBUTOR, what=f"Corpus {corpus.id}", action="import files into it"
    )

    errors = {}
    file_errors = [message for data_file in files for message in data_file_errors(data_file)]
    if file_errors:
        errors["files"] = file_errors
    page_type, new_folder_type = _resolve_types(corpus, element_type, folder_type, errors)
    folder = _resolve_folder(corpus, folder_id, errors) if folder_id else None
    if not folder_id and not folder_type:
        errors["folder_type"] = [
            "Send folder_id (the folder receiving the pages), folder_type (a new folder per data file), or both."
        ]
    farm = None
    if farm_id is not None:
        farm = Process._meta.get_field("farm").related_model.objects.filter(pk=farm_id).first()
        if farm is None:
            errors["farm_id"] = [f"No farm {farm_id}."]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        process = Process.objects.create(
            mode=mode,
            corpus=corpus,
            creator=user,
            name=name or f"Import of {files[0].name}" + (f" and {len(files) - 1} more" if len(files) > 1 else ""),
            element=folder,
            element_type=page_type,
            folder_type=new_folder_type,
            farm=farm,
        )
        # One insert; the rows' increasing IDs keep the order of the files.
        Process.files.through.objects.bulk_create(
            [Process.files.through(process_id=process.id, datafile_id=file_id) for file_id in file_ids]
        )
    return process


def import_links(process):
    """The links of a file import to its data files, in the order the files were given at its creation."""
    return Process.files.through.objects.filter(process_id=process.id).order_by("id")


def import_files(process):
    return [link.datafile for link in import_links(process).select_related("datafile")]


def import_file_ids(process):
    return list(import_links(process).values_list("datafile_id", flat=True))


def file_import_errors(process):
    """Every reason why a file import cannot start, as the body of a 400 (`{}` when it can)."""
    errors = {}
    files = import_files(process)
    if not files:
        errors["files"] = ["The import has no data files left: they were deleted. Create a new import."]
    else:
        file_errors = [message for data_file in files for message in data_file_errors(data_file)]
        if file_errors:
            errors["files"] = file_errors
    if process.element_type_id is None:
        errors["element_type"] = ["The type of the pages to create was deleted: create a new import."]
    if process.element_id is None and process.folder_type_id is None:
        errors["folder_type"] = ["The folder receiving the pages, or the type of the new folders, was deleted."]
    return errors


@receiver(process_deleting, sender=Process)
def forget_process_files(sender, cursor, process_id, **kwargs):
    cursor.execute(f"DELETE FROM {PROCESS_FILES} WHERE process_id = %s", [str(process_id)])
