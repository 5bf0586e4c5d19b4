from django.apps import AppConfig


class BiomarkersConfig(AppConfig):
    name = "apps.biomarkers"
    label = "biomarkers"
    verbose_name = "Biomarkers"
    default_auto_field = "django.db.models.BigAutoField"
