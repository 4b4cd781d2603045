from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "processes"

    def ready(self):
        from processes import activities, deletion, file_imports, jobs  # noqa: F401
        from processes.services import worker_runs  # noqa: F401
