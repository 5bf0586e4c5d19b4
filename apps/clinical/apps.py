from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "apps.clinical"
    label = "clinical"
    default_auto_field = "django.db.models.BigAutoField"
