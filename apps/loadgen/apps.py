from django.apps import AppConfig


class LoadgenConfig(AppConfig):
    name = "apps.loadgen"
    label = "loadgen"
    verbose_name = "Load data"
