"""
Data files: files uploaded to a corpus for an import process to read (seed 002, "File imports").

Rights are the corpus's: guests list and read data files, contributors create, upload and delete
them, and get their download URL (`s3_url`). A data file the user cannot see answers 404.

A data file is created empty (`unchecked`) with the name, content type and size the client
announces (CreateDataFile), then its content is uploaded in parts with the multipart operations
(object type `data_file`, see `arkindex.uploads`) straight to the storage: S3 when configured,
else this server's own signed URLs (`arkindex.storage`). Completing the upload checks the stored
size against the announced one: `checked` (with the content's MD5 when the storage can tell it
cheaply) or `error`. A checked file's content never changes; a file in error may be uploaded again.

Import tasks read the content through a signed, time-limited download URL (`s3_url`), which
Arkindex gives to file and IIIF imports alike (seed 002): the task calls with its token, which
acts as the process's creator, a contributor on the corpus since they created the import.

A data file is not deleted while a process that reads it is running (409); deleting a corpus
deletes its data files and, once that is committed, their content.
"""

import logging
import re

from django.db import transaction
from django.dispatch import receiver
from rest_framework.exceptions import ValidationError

from arkindex import storage
from arkindex.api.exceptions import Conflict
from arkindex.cleanup import UUID, ObjectFilesSweeper
from arkindex.cleanup import register as register_sweeper
from arkindex.uploads import UploadTarget, register_upload_target
from documents.models import Corpus, DataFile, ImageStatus
from documents.selectors import check_corpus_level, corpus_level_subquery
from documents.signals import corpus_deleting
from users.models import Role

logger = logging.getLogger(__name__)

DATA_FILES = DataFile._meta.db_table
# Processes reading data files belong to an app below this one: reached through the relation.
PROCESS_FILES = DataFile._meta.get_field("processes").through._meta.db_table


def data_files_with_level(user):
    """Data files annotated with the user's `corpus_level` (0 when they cannot read the corpus)."""
    return DataFile.objects.annotate(corpus_level=corpus_level_subquery(user, "corpus_id"))


def get_data_file(*, user, data_file_id, level=Role.GUEST, action="read it"):
    """
    A data file with the user's `corpus_level`: 404 when they cannot read its corpus, 403 when they
    can but hold less than `level`.
    """
    data_file = data_files_with_level(user).filter(pk=data_file_id).first()
    check_corpus_level(getattr(data_file, "corpus_level", 0), level, what=f"Data file {data_file_id}", action=action)
    return data_file


def download_url(data_file):
    """A signed, time-limited URL where the content is read without credentials."""
    return storage.download_url(data_file.storage_key, content_type=data_file.content_type)


def data_file_create(*, user, corpus, name, content_type, size):
    """A new data file awaiting its content. The caller checked that `user` is a contributor on `corpus`."""
    data_file = DataFile.objects.create(corpus=corpus, name=name, content_type=content_type, size=size, creator=user)
    logger.info("Created data file %s (%d bytes) in corpus %s", data_file.id, size, corpus.id)
    return data_file


def data_file_check(data_file):
    """
    Check the uploaded content against the announced size: `checked` with its MD5 (when the storage
    knows it) or `error`, saved either way; a 400 on `size` says what differs.
    """
    key = data_file.storage_key
    actual = storage.size(key) if storage.exists(key) else None
    if actual == data_file.size:
        data_file.status = ImageStatus.Checked
        data_file.hash = storage.content_md5(key) or ""
        data_file.save(update_fields=["status", "hash", "updated"])
        return data_file
    data_file.status = ImageStatus.Error
    data_file.save(update_fields=["status", "updated"])
    if actual is None:
        raise ValidationError({"size": ["The storage holds no content for this data file: upload it again."]})
    raise ValidationError(
        {
            "size": [
                f"The data file was announced with {data_file.size} bytes, but {actual} bytes were uploaded: "
                "upload the whole file again."
            ]
        }
    )


def data_file_upload_target(*, user, object_id):
    """Where a data file's content is uploaded in parts (contributors); once complete, it is checked."""
    data_file = get_data_file(user=user, data_file_id=object_id, level=Role.CONTRIBUTOR, action="upload its content")
    if data_file.status == ImageStatus.Checked:
        raise Conflict(
            "This data file is checked: its content cannot change any more; create a new data file.",
            code="data_file_checked",
        )
    return UploadTarget(
        key=data_file.storage_key, content_type=data_file.content_type, on_complete=lambda: data_file_check(data_file)
    )


register_upload_target("data_file", data_file_upload_target)


def data_file_destroy(*, data_file):
    """
    Delete a data file (409 while a process reading it runs) and, once that is committed, its content.
    Ended processes that read it forget it.
    """
    process_model = DataFile._meta.get_field("processes").related_model
    with transaction.atomic():
        # The lock a process start and a task end take: a run cannot begin or end half-way through this check.
        running = list(
            process_model.objects.select_for_update(no_key=True, of=("self",))
            .filter(files=data_file, started__isnull=False, finished__isnull=True)
            .values_list("id", flat=True)
        )
        if running:
            raise Conflict(
                f"Process {running[0]} is reading this data file: wait until it ends, or stop it, before deleting it.",
                code="data_file_in_use",
            )
        key = data_file.storage_key
        data_file.delete()
        transaction.on_commit(lambda: storage.delete(key))
    logger.info("Deleted data file %s", key)


@receiver(corpus_deleting, sender=Corpus)
def delete_corpus_data_files(sender, cursor, corpus_id, **kwargs):
    """A corpus's data files go with it; their content is deleted from the storage after the commit."""
    params = {"corpus": corpus_id}
    corpus_files = f"SELECT id FROM {DATA_FILES} WHERE corpus_id = %(corpus)s"
    cursor.execute(f"DELETE FROM {PROCESS_FILES} WHERE datafile_id IN ({corpus_files})", params)
    cursor.execute(f"DELETE FROM {DATA_FILES} WHERE corpus_id = %(corpus)s RETURNING id", params)
    keys = [DataFile(id=data_file_id).storage_key for (data_file_id,) in cursor.fetchall()]
    if keys:
        transaction.on_commit(lambda: [storage.delete(key) for key in keys])


# Cleanup (`arkindex.cleanup`): contents of data files that no longer exist.


@register_sweeper
class DataFileSweeper(ObjectFilesSweeper):
    name = "Data files"
    folders = ("data_files/",)
    key_pattern = re.compile(rf"^data_files/(?P<id>{UUID})$")
    model = DataFile
