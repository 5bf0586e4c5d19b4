from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class OrganizationsConfig(AppConfig):
    name = "apps.organizations"
    label = "organizations"
    verbose_name = "Organizations and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            input_messages,
            key_canary,
            sessions,  # noqa: F401  (stamps the login time on every login)
        )
        from .rls import refuse_runtime_role_bypassing_rls

        input_messages.install()
        # Registers the deploy check of FIELD_ENCRYPTION_KEYS; the owner writes the key canary after migrate.
        post_migrate.connect(key_canary.canary_ensure_after_migrate, sender=self, dispatch_uid="kura-key-canary")

        connection_created.connect(refuse_runtime_role_bypassing_rls, dispatch_uid="kura-runtime-role-rls")
