"""Row-level security and the database-held composite keys of the hub-and-spoke record (seed 002).

Every spoke: (event_id, patient_id) -> hub (id, patient_id) ON DELETE CASCADE, so a spoke cannot outlive its
event nor name another patient than its event; (organization_id, patient_id) -> patient, so it cannot point
into another organization.
"""

from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS


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
        EnableTenantRLS("observation", classified=True),
        AddCompositeForeignKey(
            model_name="observation",
            name="observation_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="observation",
            name="observation_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        EnableTenantRLS("intervention", classified=True),
        AddCompositeForeignKey(
            model_name="intervention",
            name="intervention_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="intervention",
            name="intervention_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        EnableTenantRLS("vital", classified=True),
        AddCompositeForeignKey(
            model_name="vital",
            name="vital_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="vital",
            name="vital_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        EnableTenantRLS("condition", classified=True),
        AddCompositeForeignKey(
            model_name="condition",
            name="condition_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="condition",
            name="condition_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        EnableTenantRLS("allergy", classified=True),
        AddCompositeForeignKey(
            model_name="allergy",
            name="allergy_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="allergy",
            name="allergy_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        EnableTenantRLS("medication", classified=True),
        AddCompositeForeignKey(
            model_name="medication",
            name="medication_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="medication",
            name="medication_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        EnableTenantRLS("immunization", classified=True),
        AddCompositeForeignKey(
            model_name="immunization",
            name="immunization_event_same_patient_fk",
            columns=["event_id", "patient_id"],
            to_model="clinical.clinicalevent",
            to_columns=["id", "patient_id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="immunization",
            name="immunization_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
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
