from django.apps import AppConfig


class PonosConfig(AppConfig):
    name = "ponos"
