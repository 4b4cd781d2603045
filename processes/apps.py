from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "processes"

    def ready(self):
        from processes import deletion  # noqa: F401
