"""`encounter_ref` (a bare UUID) becomes a real link to `clinical.Encounter` on charges and claims.

The column is renamed (encounter_ref -> encounter_id) and keeps its values; a value that names no encounter of
the entry's own patient is cleared (it could never have been billed as that visit), then the database gets
the composite key (encounter_id, patient_id) -> clinical_encounter (id, patient_id), as the clinical hub has:
a charge or claim can only name its own patient's encounter, and so never another organization's. NULL (no
encounter: retail, programs, payments) is not checked.

The clean-up must see every organization's rows, so it lifts FORCE ROW LEVEL SECURITY for the owner inside
this migration's transaction and restores it before the transaction ends.
"""

import django.db.models.deletion
from django.db import migrations, models

from apps.organizations.rls import AddCompositeForeignKey, ddl

CLEANED_TABLES = ("billing_ledgerentry", "billing_claim")
READ_TABLES = ("clinical_encounter",)

CLEAR_DANGLING_SQL = """
UPDATE {table} t SET encounter_id = NULL
WHERE t.encounter_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM clinical_encounter c WHERE c.id = t.encounter_id AND c.patient_id = t.patient_id)
"""


def clear_dangling_encounters(apps, schema_editor):
    tables = (*CLEANED_TABLES, *READ_TABLES)
    for table in tables:
        schema_editor.execute(ddl("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY", table=table))
    for table in CLEANED_TABLES:
        schema_editor.execute(ddl(CLEAR_DANGLING_SQL, table=table))
    for table in tables:
        schema_editor.execute(ddl("ALTER TABLE {table} FORCE ROW LEVEL SECURITY", table=table))


def same_patient_encounter_fk(model: str) -> AddCompositeForeignKey:
    return AddCompositeForeignKey(
        model_name=model,
        name=f"{model}_encounter_same_patient_fk",
        columns=["encounter_id", "patient_id"],
        to_model="clinical.encounter",
        to_columns=["id", "patient_id"],
    )


def encounter_field(related_name: str, on_delete=django.db.models.deletion.PROTECT) -> models.ForeignKey:
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        null=True,
        on_delete=on_delete,
        related_name=related_name,
        to="clinical.encounter",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_row_level_security"),
        ("clinical", "0006_timeline_row_level_security"),
    ]

    operations = [
        *[
            migrations.RenameField(model_name=model, old_name="encounter_ref", new_name="encounter")
            for model in ("ledgerentry", "historicalledgerentry", "claim", "historicalclaim")
        ],
        migrations.AlterField(model_name="ledgerentry", name="encounter", field=encounter_field("ledger_entries")),
        migrations.AlterField(model_name="claim", name="encounter", field=encounter_field("claims")),
        *[
            migrations.AlterField(
                model_name=model,
                name="encounter",
                field=encounter_field("+", on_delete=django.db.models.deletion.DO_NOTHING),
            )
            for model in ("historicalledgerentry", "historicalclaim")
        ],
        migrations.RunPython(clear_dangling_encounters, migrations.RunPython.noop),
        same_patient_encounter_fk("ledgerentry"),
        same_patient_encounter_fk("claim"),
    ]
