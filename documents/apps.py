from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"

    def ready(self):
        # Registers what deleting a corpus or elements does to selections.
        from documents import selection_services  # noqa: F401
