"""Reads for patients and consents (rows are filtered by PostgreSQL; these add what the planner needs)."""

from __future__ import annotations

import re
from datetime import date, datetime
from uuid import UUID

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, TextField, UUIDField, Value
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from apps.organizations.local_dates import parse_local_date

from .models import Consent, Patient, PatientQuerySet, PHIAccessLog


# The patient lists leave the organization to the tenant policy alone. An explicit `organization_id = X` beside
# the policy's `organization_id = (SELECT kura_current_org())` makes PostgreSQL check "X equals the policy's
# value" in a gating node that every row of the scan passes through: +20% on counting a 20,000-patient
# organization, for the same plan (bench/README.md, "patient list page").
def patient_list() -> PatientQuerySet:
    """The active organization's patients that are not soft-deleted."""
    return Patient.objects.active()


def patient_deleted_list() -> PatientQuerySet:
    """Soft-deleted patients of the active organization (the restore path)."""
    return Patient.objects.deleted()


def patient_mrn_in_use(mrn: str, *, exclude_id: UUID | None = None) -> bool:
    """Whether a patient of the active organization (soft-deleted ones too) has this MRN. Through the base
    manager: an MRN is taken even by a patient a consent-gated partner cannot see."""
    patients = Patient._base_manager.filter(mrn=mrn)
    if exclude_id is not None:
        patients = patients.exclude(pk=exclude_id)
    return patients.exists()


def patient_same_person_list(
    *, given_name: str, family_name: str, date_of_birth: date, exclude_id: UUID | None = None
) -> PatientQuerySet:
    """Patients of the active organization with this family name, given name and birth date, whatever the case
    and accents: most likely the same person registered twice (soft-deleted ones included: restoring is the better
    answer)."""
    patients = Patient.objects.filter(
        Exact(_search_text(F("family_name")), _search_text(Value(family_name.strip()))),
        Exact(_search_text(F("given_name")), _search_text(Value(given_name.strip()))),
        date_of_birth=date_of_birth,
    )
    return patients if exclude_id is None else patients.exclude(pk=exclude_id)


def _search_text(expression: F | Value) -> Func:
    """Lower case without accents, as the search compares names (`kura_search_text`, migration 0010)."""
    return Func(expression, function="kura_search_text", output_field=TextField())


# Search: one implementation for the admin's list and pickers and the API's list. Names, the ends of MRNs and
# phone numbers are matched by `kura_patient_search_ids` (migrations 0011, 0013, 0014) through indexes: a narrow
# SECURITY DEFINER function, because under row-level security PostgreSQL reads no index through pg_trgm's or
# full-text operators. A birth date is an ordinary condition on the (organization, date of birth) index. The SSN
# is encrypted and never searched. The function runs once per search, and its ids are bound as one array
# (`id = ANY(...)`, read through the primary key): a list counts and then reads the same patients, and a name
# that fits hundreds of them would otherwise be matched twice. The array travels as its text, from the database
# and back: turning hundreds of ids into Python UUIDs and back cost more than the search (bench/README.md,
# "Patient search" and "The search on a quiet host").
_SEARCH_IDS = "SELECT coalesce(array_agg(id), '{}')::text FROM kura_patient_search_ids(%s, %s, %s) AS id"
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")
PHONE_MIN_DIGITS = 7


def patient_search_condition(term: str) -> Q:
    """What staff type into one search box, as they would say it: a name in any order ("Okafor, Mateo", "mateo
    okafor"), partly, without its accents, with a typo; a phone number in any format; the end of an MRN ("1003");
    a birth date in the clinic's format or ISO ("11/02/1991", "1991-11-02").

    A name is found by the beginnings of its words first: the patients with a word of the name (family, given or
    preferred) beginning with each word typed ("okaf", "ben hil", "lucia" for Lucía). Only when no patient's name
    begins so is the typed text taken as a typo and matched by similarity ("Okafr Mateo"), so a name typed right
    no longer also brings the names that merely look like it ("Smith, Ada" finds the Ada Smiths, not Ava Smith;
    "smith a" finds both). What was typed is only ever text: quotes, backslashes and `&`, `|`, `!`, `:*` are
    characters or separators, never operators. Likewise a phone number is found by its end first ("555 0142"
    finds +1 503 555 0142, not +1 555 014 2999), and by the digits anywhere in it only when no number ends with
    them ("503 555 01")."""
    term = term.strip()
    born = parse_local_date(term)
    if born is not None:
        return Q(date_of_birth=born)
    words: str | None = None
    phone_digits: str | None = None
    if PHONE_LIKE.match(term):
        digits = re.sub(r"\D", "", term)
        phone_digits = digits if len(digits) >= PHONE_MIN_DIGITS else None
    else:
        words = " ".join(re.split(r"[\s,;]+", term))
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_IDS, [words, term, phone_digits])
        (found,) = cursor.fetchone()
    ids = Cast(Value(found, output_field=TextField()), ArrayField(UUIDField()))
    return Q(Func(F("pk"), ids, template="%(expressions)s)", arg_joiner=" = ANY(", output_field=BooleanField()))


def consent_list(*, at: datetime | None = None) -> QuerySet[Consent]:
    """Consents of the active organization with `is_valid` at `at` (default now)."""
    return Consent.objects.for_current_organization().filter(deleted_at__isnull=True).with_validity(at)


def phi_access_log() -> QuerySet[PHIAccessLog]:
    """The organization's PHI access log, newest first."""
    return PHIAccessLog.objects.select_related("user", "api_key", "patient")
