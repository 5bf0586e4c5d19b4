"""837P files in X12's basic character set: names and addresses transliterated, files written as ASCII."""

import datetime as dt

import pytest
from django.core.management import call_command

from apps.billing import x12
from apps.billing.models import InsurancePolicy, LedgerEntry, TransactionType
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_validation import assert_valid_x12, validate_x12
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Lucía", "LUCIA"),
        ("Núñez-García", "NUNEZ-GARCIA"),
        ("Ødegård", "ODEGARD"),
        ("Straße 5", "STRASSE 5"),
        ("Piso 2º", "PISO 2O"),
        ("Łukasz Æsir", "LUKASZ AESIR"),
        ("O'Neil*Smith:Jr^~", "O'NEIL SMITH JR"),
        ("Apt #2 @ 50% [rear]", "APT 2 50 REAR"),
        ("line\r\nbreak\ttab", "LINE BREAK TAB"),
        ("李", ""),
    ],
)
def test_text_is_transliterated_to_the_basic_character_set(value, expected):
    assert x12.x12_text(value) == expected


def test_text_is_trimmed_after_transliteration():
    assert x12.x12_text("Éloïse Zoë", 7) == "ELOISE"  # "ELOISE Z" trimmed to 7 is "ELOISE " less its space


def _non_ascii_org(slug: str | None = None):
    """A clinic whose patients, subscriber, payer and provider carry accents and delimiter characters."""
    bf.provider(legal_name="Clínica Año*Nuevo", contact_name="Zoë Ærø", address_line1="1 Rue Ç~Ñ")
    payer = bf.payer("Salud Cooperativa José", "SALUD1")
    lucia = PatientFactory(
        given_name="Lucía",
        family_name="Núñez-García",
        sex_at_birth="female",
        address_line1="12 Calle Peñalver*3",
        address_line2="Piso 2º",
        city="San José",
        region="CA",
        postal_code="95112",
    )
    child = PatientFactory(given_name="Zoë", family_name="Ødegård", sex_at_birth="female")
    own = bf.policy(lucia, payer, group_number="GRÜP:1", address_line1="Peñalver 3", city="Cañon City")
    dependent = bf.policy(
        child,
        payer,
        subscriber_relationship=InsurancePolicy.Relationship.CHILD,
        subscriber_given_name="Björn",
        subscriber_family_name="Ødegård^Straße",
        address_line1="Ångström Allé 4",
        city="Søborg",
    )
    visit = bf.encounter(lucia)
    bf.charge(lucia, 15_000, transaction_type=CLINICAL, insurance_policy=own, encounter=visit)
    bf.charge(
        lucia,
        4_550,
        transaction_type=CLINICAL,
        insurance_policy=own,
        encounter=visit,
        metadata={
            "cpt_code": "96127",
            "units": 2,
            "diagnosis_codes": ["F41.1", "F43.10", "F32.A", "Z63.0"],
            "diagnosis_pointers": [1, 2, 3, 4],
        },
    )
    bf.charge(child, 9_000, transaction_type=CLINICAL, insurance_policy=dependent, encounter=bf.encounter(child))
    return lucia, child


def test_export_with_accented_names_dependents_lines_and_diagnoses_passes_pyx12(org_a, org_b):
    with as_tenant(org_a):
        _non_ascii_org()
        batch = x12.claim_batch_export(now=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC))
        assert batch is not None
        assert batch.file_bytes().decode("ascii") == batch.content
        assert_valid_x12(batch.content)
        segments = batch.content.strip().split("~\n")
        assert "NM1*IL*1*NUNEZ-GARCIA*LUCIA****MI*XJ1234567" in segments
        assert "N3*12 CALLE PENALVER 3*PISO 2O" in segments
        assert "N4*SAN JOSE*CA*95112" in segments
        assert "SBR*P*18*GRUP 1******CI" in segments
        assert "NM1*IL*1*ODEGARD STRASSE*BJORN****MI*XJ1234567" in segments
        assert "N3*ANGSTROM ALLE 4" in segments
        assert "N4*SOBORG*OR*97201" in segments
        assert "NM1*QC*1*ODEGARD*ZOE" in segments
        assert "NM1*PR*2*SALUD COOPERATIVA JOSE*****PI*SALUD1" in segments
        assert "NM1*41*2*CLINICA ANO NUEVO*****46*KURA01" in segments
        assert "PER*IC*ZOE AERO*TE*5035550100" in segments
        assert "HI*ABK:F4310*ABF:F411*ABF:F32A*ABF:Z630" in segments
        assert [s for s in segments if s.startswith("SV1")] == [
            "SV1*HC:90837:95*150*UN*1***1",
            "SV1*HC:96127*45.5*UN*2***2:1:3:4",
            "SV1*HC:90837:95*90*UN*1***1",
        ]


def test_validator_refuses_characters_outside_the_basic_set(org_a):
    """The check is strict: the same file with one accented letter put back fails pyx12's character-set check."""
    with as_tenant(org_a):
        _non_ascii_org()
        batch = x12.claim_batch_export()
        assert batch is not None
        ok, errors, _ = validate_x12(batch.content.replace("NUNEZ-GARCIA", "NÚÑEZ-GARCIA"))
        assert ok is False
        assert errors != []


@pytest.mark.usefixtures("committed")
def test_export_command_writes_an_ascii_file_for_a_patient_named_lucia(tmp_path):
    org = make_organization("accent-org")
    with as_tenant(org):
        _non_ascii_org()
    out = tmp_path / "claims.x12"
    call_command("export_837p", "--org", "accent-org", "--out", str(out))
    raw = out.read_bytes()
    assert raw.isascii()
    assert raw.count(b"CLM*") == 2
    assert b"NM1*IL*1*NUNEZ-GARCIA*LUCIA" in raw
    assert_valid_x12(raw.decode("ascii"))


def test_admin_action_sends_ascii_bytes(org_a, org_b):
    with as_tenant(org_a):
        _non_ascii_org()
        some_id = LedgerEntry.objects.values_list("pk", flat=True).first()
    client = logged_in(add_member(org_a, Role.BILLING))
    response = client.post("/admin/billing/ledgerentry/", {"action": "export_837p", "_selected_action": [str(some_id)]})
    assert response.status_code == 200
    assert response.content.isascii()
    assert b"NM1*QC*1*ODEGARD*ZOE" in response.content
    assert_valid_x12(response.content.decode("ascii"))
