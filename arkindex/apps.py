from django.apps import AppConfig


class ArkindexConfig(AppConfig):
    name = "arkindex"
    verbose_name = "Arkindex"
