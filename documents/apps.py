from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"

    def ready(self):
        # Register what deleting a corpus or elements does to selections and data files, and the
        # `data_file` multipart uploads.
        from documents import datafiles, selection_services  # noqa: F401
