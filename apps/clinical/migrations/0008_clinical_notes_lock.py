"""Clinical notes under row-level security, kept in their organization and patient by composite keys, and locked
once signed.

The lock is a trigger, because a grant cannot tell a draft from a signed row: for any role but the table's owner
(migrations, the retention purge), UPDATE or DELETE of a signed note is refused, whatever the statement. While a
note is a draft its author stays its author, and only the author (`app.user_id`) can sign it. TRUNCATE fires no
row trigger, so the runtime role loses it. Addenda are append-only: no UPDATE or DELETE at all.
"""

from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS, MakeAppendOnly, ddl, runtime_role

LOCK_SQL = """
CREATE FUNCTION clinical_note_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'A signed note cannot be changed or deleted: add an addendum.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.author_id IS DISTINCT FROM OLD.author_id THEN
        RAISE EXCEPTION 'A note keeps its author.' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status = 'signed' AND NEW.author_id IS DISTINCT FROM kura_current_user_id() THEN
        RAISE EXCEPTION 'Only the author of a note can sign it.' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER clinical_note_guard BEFORE UPDATE OR DELETE ON clinical_clinicalnote
    FOR EACH ROW EXECUTE FUNCTION clinical_note_guard();
"""

UNLOCK_SQL = """
DROP TRIGGER clinical_note_guard ON clinical_clinicalnote;
DROP FUNCTION clinical_note_guard();
"""


def revoke_truncate(apps, schema_editor):
    schema_editor.execute(ddl("REVOKE TRUNCATE ON clinical_clinicalnote FROM {runtime}", runtime=runtime_role()))


def grant_truncate(apps, schema_editor):
    schema_editor.execute(ddl("GRANT TRUNCATE ON clinical_clinicalnote TO {runtime}", runtime=runtime_role()))


class Migration(migrations.Migration):
    dependencies = [("clinical", "0007_clinical_notes"), ("patients", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("clinicalnote", classified=True),
        EnableTenantRLS("noteaddendum", classified=True),
        AddCompositeForeignKey(
            model_name="clinicalnote",
            name="clinicalnote_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        # NO ACTION: an encounter with notes cannot be deleted.
        AddCompositeForeignKey(
            model_name="clinicalnote",
            name="clinicalnote_encounter_same_patient_fk",
            columns=["encounter_id", "patient_id"],
            to_model="clinical.encounter",
            to_columns=["id", "patient_id"],
            on_delete="NO ACTION",
        ),
        AddCompositeForeignKey(
            model_name="noteaddendum",
            name="noteaddendum_note_same_patient_fk",
            columns=["organization_id", "patient_id", "note_id"],
            to_model="clinical.clinicalnote",
            to_columns=["organization_id", "patient_id", "id"],
            on_delete="CASCADE",
        ),
        MakeAppendOnly("noteaddendum"),
        migrations.RunSQL(LOCK_SQL, UNLOCK_SQL),
        migrations.RunPython(revoke_truncate, grant_truncate),
    ]
