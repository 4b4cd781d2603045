from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "datasets"

    def ready(self):
        # Registers what deleting a corpus, elements or a process does to datasets, and the start checks.
        from datasets import jobs, services  # noqa: F401
        from datasets.services import exports, process_sets  # noqa: F401
