from django.apps import AppConfig
from django.db.backends.signals import connection_created


class OrganizationsConfig(AppConfig):
    name = "apps.organizations"
    label = "organizations"
    verbose_name = "Organizations and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            input_messages,
            sessions,  # noqa: F401  (stamps the login time on every login)
        )
        from .rls import refuse_runtime_role_bypassing_rls

        input_messages.install()

        connection_created.connect(refuse_runtime_role_bypassing_rls, dispatch_uid="kura-runtime-role-rls")
