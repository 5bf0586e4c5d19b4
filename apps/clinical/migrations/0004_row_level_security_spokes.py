"""Row-level security and the database-held composite keys of the hub-and-spoke record (seed 002).

Every spoke: (event_id, patient_id) -> hub (id, patient_id) ON DELETE CASCADE, so a spoke cannot outlive its
event nor name another patient than its event; (organization_id, patient_id) -> patient, so it cannot point
into another organization.
"""

from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS

# Fixed here, not imported from the models: a migration must not change when the code does.
SPOKES = ("observation", "intervention", "vital", "condition", "allergy", "medication", "immunization")


def spoke_operations(spoke: str) -> list[migrations.operations.base.Operation]:
    return [
        EnableTenantRLS(spoke, classified=True),
        AddCompositeForeignKey(
            model_name=spoke,
            name=f"{spoke}_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name=spoke,
            name=f"{spoke}_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("clinical", "0003_encounters_spokes_codes"),
        ("patients", "0004_row_level_security_consents_access_log"),
    ]

    operations = [
        EnableTenantRLS("encounter", classified=True),
        AddCompositeForeignKey(
            model_name="encounter",
            name="encounter_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        # An event's encounter is the same patient's (and so the same organization's). NO ACTION: deleting an
        # encounter detaches its events (the ORM sets encounter_id to NULL first).
        AddCompositeForeignKey(
            model_name="clinicalevent",
            name="clinicalevent_encounter_same_patient_fk",
            columns=["encounter_id", "patient_id"],
            to_model="clinical.encounter",
            to_columns=["id", "patient_id"],
            on_delete="NO ACTION",
        ),
        *(operation for spoke in SPOKES for operation in spoke_operations(spoke)),
        EnableTenantRLS("medicalcodeassignment", classified=True),
        AddCompositeForeignKey(
            model_name="medicalcodeassignment",
            name="medicalcodeassignment_event_same_org_fk",
            columns=["organization_id", "event_id"],
            to_model="clinical.clinicalevent",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
    ]
