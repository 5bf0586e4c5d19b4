"""Sources beyond the first four (Fitbit, Garmin, Whoop, Dexcom, Withings, any other device), in the column's
choices and its check; and `voided_at`, which takes a withdrawn reading out of every result and keeps it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("biomarkers", "0003_bulk_write_constraints_and_indexes")]

    operations = [
        migrations.RemoveConstraint(
            model_name="biomarkerlog",
            name="biomarker_source_valid",
        ),
        migrations.AddField(
            model_name="biomarkerlog",
            name="voided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalbiomarkerlog",
            name="voided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="biomarkerlog",
            name="source",
            field=models.CharField(
                choices=[
                    ("kintsugi_voice", "Kintsugi voice analysis"),
                    ("apple_health_kit", "Apple HealthKit"),
                    ("oura_api", "Oura"),
                    ("manual_input", "Manual entry"),
                    ("fitbit", "Fitbit"),
                    ("garmin", "Garmin"),
                    ("whoop", "Whoop"),
                    ("dexcom", "Dexcom continuous glucose monitor"),
                    ("withings", "Withings"),
                    ("generic_device", "Other device"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="historicalbiomarkerlog",
            name="source",
            field=models.CharField(
                choices=[
                    ("kintsugi_voice", "Kintsugi voice analysis"),
                    ("apple_health_kit", "Apple HealthKit"),
                    ("oura_api", "Oura"),
                    ("manual_input", "Manual entry"),
                    ("fitbit", "Fitbit"),
                    ("garmin", "Garmin"),
                    ("whoop", "Whoop"),
                    ("dexcom", "Dexcom continuous glucose monitor"),
                    ("withings", "Withings"),
                    ("generic_device", "Other device"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="biomarkerlog",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "source__in",
                        [
                            "kintsugi_voice",
                            "apple_health_kit",
                            "oura_api",
                            "manual_input",
                            "fitbit",
                            "garmin",
                            "whoop",
                            "dexcom",
                            "withings",
                            "generic_device",
                        ],
                    )
                ),
                name="biomarker_source_valid",
            ),
        ),
    ]
