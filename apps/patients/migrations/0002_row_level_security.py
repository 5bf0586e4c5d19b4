from django.db import migrations

from apps.organizations.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial"), ("organizations", "0002_row_level_security")]

    operations = [EnableTenantRLS("patient")]
