from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"

    def ready(self):
        # Register what deleting a corpus or elements does to selections and data files, the
        # `data_file` multipart uploads, and what a failed deletion job undoes.
        from documents import datafiles, jobs, selection_services  # noqa: F401
