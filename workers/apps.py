from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self):
        # Model version archives are a target of the multipart upload operations.
        from workers.services import ml_models  # noqa: F401
