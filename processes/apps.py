from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "processes"

    def ready(self):
        from processes import activities, deletion  # noqa: F401
