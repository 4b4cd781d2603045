from django.apps import AppConfig


class PonosConfig(AppConfig):
    name = "ponos"

    def ready(self):
        from ponos import cleanup, deletion, jobs  # noqa: F401
