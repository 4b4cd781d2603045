from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"

    def ready(self):
        # Register what deleting a corpus or elements does to selections and data files, the
        # `data_file` multipart uploads, what a failed deletion job undoes, and the search index's
        # deletion hooks and flag changes.
        from documents import jobs  # noqa: F401
        from documents.services import datafiles, search, selections  # noqa: F401
