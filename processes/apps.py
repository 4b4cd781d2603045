from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "processes"

    def ready(self):
        from processes import jobs  # noqa: F401
        from processes.services import activities, deletion, file_imports, worker_runs  # noqa: F401
