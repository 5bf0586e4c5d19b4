"""Search that finds people, one implementation for the admin's list, the admin's pickers and the API's list."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection, connections

from apps.organizations.roles import Role
from apps.patients import selectors, services
from apps.patients.models import Patient
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

CLINIC_A = [
    {"mrn": "HAR-1003", "given_name": "Mateo", "family_name": "Okafor", "date_of_birth": date(1991, 11, 2)},
    {"mrn": "HAR-1004", "given_name": "Lucía", "family_name": "Fernández", "date_of_birth": date(1985, 6, 15)},
    {"mrn": "HAR-2001", "given_name": "Ana", "family_name": "Lindqvist", "date_of_birth": date(1984, 3, 14)},
]
PHONES = {"HAR-1003": "+15035550142", "HAR-1004": "+15035550199", "HAR-2001": "+442071838750"}
# Another clinic's patient with the same name, birth date and phone: never found from clinic A.
CLINIC_B = {**CLINIC_A[0], "mrn": "B-1003", "phone": "+15035550142"}

# What the front desk types, and the MRNs clinic A's search must answer (in the list's order: by name).
EXPECTED = {
    "Mateo Okafor": ["HAR-1003"],
    "Okafor, Mateo": ["HAR-1003"],
    "mateo okafor": ["HAR-1003"],
    "OKAF": ["HAR-1003"],
    "Lucia": ["HAR-1004"],
    "fernandez lucia": ["HAR-1004"],
    "Okafr Mateo": ["HAR-1003"],  # a letter missing
    "(503) 555-0142": ["HAR-1003"],
    "503.555.0142": ["HAR-1003"],
    "+1 503 555 0142": ["HAR-1003"],
    "1003": ["HAR-1003"],
    "har-1003": ["HAR-1003"],
    "11/02/1991": ["HAR-1003"],
    "1991-11-02": ["HAR-1003"],
    "503 555 01": ["HAR-1004", "HAR-1003"],
    # Must not match: another person's given name with this family name, a number no MRN ends with, a day
    # nobody was born, a phone number nobody has, wildcards (taken as the characters they are).
    "Okafor Lucia": [],
    "2003": [],
    "12/02/1991": [],
    "(503) 555-0100": [],
    "%": [],
    "_003": [],
    "HAR\\1003": [],
}


def _clinics(org_a, org_b):
    with as_tenant(org_a):
        for fields in CLINIC_A:
            PatientFactory(**fields, phone=PHONES[fields["mrn"]])
    with as_tenant(org_b):
        PatientFactory(**CLINIC_B)


def test_the_selector_finds_people_by_what_the_caller_gives_and_only_in_its_own_organization(org_a, org_b):
    _clinics(org_a, org_b)
    with as_tenant(org_a, Role.FRONT_DESK):
        found = {
            term: list(
                selectors.patient_list().filter(selectors.patient_search_condition(term)).values_list("mrn", flat=True)
            )
            for term in EXPECTED
        }
    with as_tenant(org_b, Role.FRONT_DESK):
        in_b = list(
            selectors.patient_list()
            .filter(selectors.patient_search_condition("Okafor, Mateo"))
            .values_list("mrn", flat=True)
        )
    assert found == EXPECTED
    assert in_b == ["B-1003"]


def test_the_api_list_the_admin_list_and_the_admin_picker_answer_alike(org_a, org_b):
    _clinics(org_a, org_b)
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    picker_query = {"app_label": "clinical", "model_name": "encounter", "field_name": "patient"}
    with as_tenant(org_a):
        named = {patient.mrn: str(patient) for patient in Patient.objects.all()}

    api, admin, picker = {}, {}, {}
    for term in EXPECTED:
        api[term] = [row["mrn"] for row in client.get("/api/v1/patients/", {"search": term}).json()["results"]]
        changelist = client.get("/admin/patients/patient/", {"q": term}).context["cl"]
        admin[term] = [patient.mrn for patient in changelist.result_list]
        results = client.get("/admin/autocomplete/", {**picker_query, "term": term}).json()["results"]
        picker[term] = [row["text"] for row in results]

    assert api == EXPECTED
    assert admin == EXPECTED
    assert picker == {term: [named[mrn] for mrn in mrns] for term, mrns in EXPECTED.items()}


def test_lists_of_patients_records_search_by_the_patient(org_a, org_b):
    _clinics(org_a, org_b)
    for org in (org_a, org_b):
        with as_tenant(org):
            for patient in Patient.objects.all():
                services.consent_record(patient=patient, consent_type="treatment", granted=True)
    client = logged_in(add_member(org_a, Role.FRONT_DESK))

    found = {
        term: sorted(
            c.patient.mrn for c in client.get("/admin/patients/consent/", {"q": term}).context["cl"].result_list
        )
        for term in ("Okafor, Mateo", "lucia", "11/02/1991", "1004", "Okafor Lucia")
    }

    assert found == {
        "Okafor, Mateo": ["HAR-1003"],
        "lucia": ["HAR-1004"],
        "11/02/1991": ["HAR-1003"],
        "1004": ["HAR-1004"],
        "Okafor Lucia": [],
    }


# A name typed right finds the names that begin so, not also those that only look alike; a typo falls back on
# similarity in the caller's organization even where another organization has a name beginning so; what is typed
# is text, never a full-text query operator. Phone numbers likewise: by their end first, else anywhere.
PREFIX_CLINIC_A = [
    ("S-ADA", "Ada", "Smith", "+15035550142"),
    ("S-AVA", "Ava", "Smith", "+15550142999"),
    ("OB-1", "Siobhán", "O'Brien", ""),
]
PREFIX_CLINIC_B = [("B-SMITTH", "Ada", "Smitth", "+15035550142")]
PREFIX_EXPECTED = {
    "Smith, Ada": ["S-ADA"],
    "ada smith": ["S-ADA"],
    "smith a": ["S-ADA", "S-AVA"],
    "SMI": ["S-ADA", "S-AVA"],
    "Smitth Ada": ["S-ADA"],  # nobody in this clinic begins so: a typo, matched by similarity
    "O'Brien": ["OB-1"],
    "siobhan o'bri": ["OB-1"],
    "Smith & !Ada": ["S-ADA"],
    "ada:* | ava": [],
    "O'Brien\\": ["OB-1"],
    "'": [],
    "Smithers": [],
    # A phone number is found by its end first; digits from its middle only when no number ends with them.
    "555 0142": ["S-ADA"],
    "555-0142-99": ["S-AVA"],
    "0355501": ["S-ADA"],
}


def test_names_beginning_with_the_words_typed_come_first_and_a_typo_falls_back_to_similar_names(org_a, org_b):
    for org, patients in ((org_a, PREFIX_CLINIC_A), (org_b, PREFIX_CLINIC_B)):
        with as_tenant(org):
            for mrn, given, family, phone in patients:
                PatientFactory(
                    mrn=mrn, given_name=given, family_name=family, phone=phone, date_of_birth=date(1970, 1, 1)
                )
    client = logged_in(add_member(org_a, Role.FRONT_DESK))

    api = {
        term: [row["mrn"] for row in client.get("/api/v1/patients/", {"search": term}).json()["results"]]
        for term in PREFIX_EXPECTED
    }
    with as_tenant(org_b, Role.FRONT_DESK):
        in_b = {
            term: list(
                selectors.patient_list().filter(selectors.patient_search_condition(term)).values_list("mrn", flat=True)
            )
            for term in ("Smitth Ada", "Smith, Ada")
        }

    assert api == PREFIX_EXPECTED
    assert in_b == {"Smitth Ada": ["B-SMITTH"], "Smith, Ada": ["B-SMITTH"]}


@pytest.mark.usefixtures("committed")
def test_each_kind_of_term_reads_its_index_under_row_level_security():
    """With real statistics (committed rows, VACUUM ANALYZE by the owner), as the runtime role under RLS."""
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    for organization, size in ((org_a, 3000), (org_b, 500)):
        with as_tenant(organization):
            Patient.objects.bulk_create(
                Patient(
                    mrn=f"P{i:05d}",
                    given_name=f"Given{i % 89}",
                    family_name=f"Family{i % 97}",
                    date_of_birth=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
                    phone=f"+1555{i:07d}",
                )
                for i in range(size)
            )
            PatientFactory(**CLINIC_A[0], phone=PHONES["HAR-1003"])
    with connections["owner"].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE patients_patient")

    reads = {term: _reads_of_search(org_a, term) for term in SEARCH_INDEX_READS}

    assert reads == SEARCH_INDEX_READS


# What each kind of term reads of the patients' table, as PostgreSQL counts it (the search indexes and sequential
# scans; the count and the page read the found patients through the primary key besides). A name typed right is
# answered by the index of the names' words, and the trigram index is not read; a typo reads both. A whole phone
# number is answered by the btree of the numbers' ends; digits from the middle of one read the trigram index too.
SEARCH_INDEXES = (
    "patient_search_name_words_idx",
    "patient_search_name_trgm_idx",
    "patient_search_mrn_end_idx",
    "patient_search_phone_end_idx",
    "patient_search_phone_trgm_idx",
    "patients_pa_organiz_0880de_idx",
)
SEARCH_INDEX_READS = {
    "Okafor, Mateo": {"patient_search_name_words_idx", "patient_search_mrn_end_idx"},
    "Okafr Mateo": {"patient_search_name_words_idx", "patient_search_name_trgm_idx", "patient_search_mrn_end_idx"},
    "(503) 555-0142": {"patient_search_mrn_end_idx", "patient_search_phone_end_idx"},
    "503 555 01": {"patient_search_mrn_end_idx", "patient_search_phone_end_idx", "patient_search_phone_trgm_idx"},
    "1003": {"patient_search_mrn_end_idx"},
    "11/02/1991": {"patients_pa_organiz_0880de_idx"},
}


def _scans() -> dict[str, int]:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE indexrelname = ANY(%s) "
            "UNION ALL SELECT 'sequential scan', seq_scan FROM pg_stat_user_tables WHERE relname = 'patients_patient'",
            [list(SEARCH_INDEXES)],
        )
        return dict(cursor.fetchall())


def _reads_of_search(organization, term: str) -> set[str]:
    """The search indexes (and sequential scans of patients) that one search reads as the runtime role."""
    # Counters still pending in this backend (earlier reads) reach the shared statistics first.
    with as_tenant(organization, Role.FRONT_DESK), connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    before = _scans()
    with as_tenant(organization, Role.FRONT_DESK), connection.cursor() as cursor:
        found = selectors.patient_list().filter(selectors.patient_search_condition(term))
        assert "HAR-1003" in [patient.mrn for patient in found]
        # This backend's counters reach the shared statistics when its transaction ends.
        cursor.execute("SELECT pg_stat_force_next_flush()")
    after = _scans()
    return {name for name, count in after.items() if count != before[name]}
