"""Key safety: keys that cannot decrypt what is stored are refused; a bad configuration stops Kura with one line.

The key canary (apps/organizations/key_canary.py) is checked as the runtime role by `check --deploy` and when
the WSGI application loads; a missing or malformed setting (config/environment.py) stops `manage.py` and
gunicorn's master with one line naming the variable, never its value; a value no listed key opens is shown as
unavailable instead of failing the page.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import call_command
from django.db import connections

from apps.organizations import encryption, key_canary
from apps.patients import services
from apps.patients.models import Patient
from config import embedded_db
from tests.conftest import api_client, as_tenant, issue_key, make_organization

ROOT = Path(__file__).resolve().parents[2]
PATIENT = {"mrn": "A-1", "given_name": "Ada", "family_name": "Quill", "date_of_birth": "1980-02-03"}
WRONG_KEY = Fernet.generate_key().decode()
WRONG_KEYS_MESSAGE = (
    "FIELD_ENCRYPTION_KEYS cannot decrypt the values already stored (no listed key opens the key canary): "
    "put the right key back in the list."
)


def key_errors() -> list[tuple[str, str]]:
    messages = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    return [(m.id, m.msg) for m in messages if m.id and m.id.startswith("organizations.")]


def stored_canary() -> str:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT token FROM organizations_fieldkeycanary")
        (token,) = cursor.fetchone()
    return str(token)


@pytest.mark.usefixtures("committed")
def test_after_rotation_the_new_key_alone_passes_the_check_and_the_old_one_alone_does_not(settings):
    test_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = stored_canary()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, test_key]  # rotation under way: both keys listed
    assert key_errors() == []
    out = StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "key canary re-encrypted" in out.getvalue()
    assert stored_canary() != before
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert key_errors() == []
    settings.FIELD_ENCRYPTION_KEYS = [test_key]
    assert key_errors() == [("organizations.E001", WRONG_KEYS_MESSAGE)]


@pytest.mark.django_db
def test_the_deploy_check_refuses_a_wrong_but_well_formed_key_and_passes_with_the_right_one(settings):
    assert key_errors() == []  # the test key wrote the canary (and the rotation test left it so)
    right_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [WRONG_KEY]
    assert key_errors() == [("organizations.E001", WRONG_KEYS_MESSAGE)]
    settings.FIELD_ENCRYPTION_KEYS = [WRONG_KEY, right_key]  # a new key put first, not yet rotated
    assert key_errors() == []


@pytest.mark.django_db(databases=["default", "owner"])
def test_the_runtime_role_can_read_the_canary_but_not_change_it():
    from django.db import ProgrammingError, transaction

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM organizations_fieldkeycanary")
        assert cursor.fetchone() == (1,)
    for statement in (
        "UPDATE organizations_fieldkeycanary SET token = 'x'",
        "DELETE FROM organizations_fieldkeycanary",
    ):
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            transaction.atomic(),
            connections["default"].cursor() as cursor,
        ):
            cursor.execute(statement)
    assert encryption.decrypt(stored_canary()) == key_canary.CANARY_PLAINTEXT


# --- Whole processes: manage.py, the WSGI module, gunicorn ------------------------------------------------


def runtime_database_url(role: str = "default") -> str:
    """The test database as a URL, for a production-settings process (the embedded server's socket)."""
    address = embedded_db.ensure_running()
    settings_dict = connections[role].settings_dict
    return (
        f"postgresql://{settings_dict['USER']}@/{settings_dict['NAME']}?host={address.socket_dir}&port={address.port}"
    )


def production_env(**overrides: str) -> dict[str, str]:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "FIELD_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "a" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
            "ALLOWED_HOSTS": "kura.example.org",
            "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS[0],
            "DATABASE_URL": runtime_database_url("default"),
            "DATABASE_OWNER_URL": runtime_database_url("owner"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(overrides)
    return env


def run(command: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], names: str, value: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Kura configuration error: {names} ")
    assert "Traceback" not in result.stderr
    if value:
        assert value not in result.stderr


MALFORMED = [
    ("FIELD_ENCRYPTION_KEYS", "not-a-fernet-key"),
    ("FIELD_ENCRYPTION_KEYS", ""),
    ("DATABASE_URL", "kura-database"),
    ("DATABASE_URL", "postgresql://kura_app@db.example.org:port/kura"),
    ("DATABASE_URL", "postgresql://kura_app@db.example.org:5432"),
    ("DATABASE_OWNER_URL", "mysql://kura_owner@db.example.org/kura"),
    ("CONN_MAX_AGE", "abc"),
    ("API_KEY_RATE", "fast"),
    ("KURA_SESSION_IDLE_MINUTES", "half-an-hour"),
    ("RETENTION_DAYS", "patients.patient=forever"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("variable", "value"), MALFORMED)
def test_a_malformed_setting_stops_manage_py_with_one_line_naming_the_variable(variable, value):
    result = run([sys.executable, "manage.py", "check"], production_env(**{variable: value}))
    assert_one_line_refusal(result, variable, value)


def test_a_malformed_setting_stops_development_settings_too():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = run([sys.executable, "manage.py", "check"], {**env, "CONN_MAX_AGE": "abc"})
    assert_one_line_refusal(result, "CONN_MAX_AGE", "abc")


@pytest.mark.django_db
def test_a_missing_key_stops_manage_py_with_one_line():
    env = production_env()
    del env["FIELD_ENCRYPTION_KEYS"]
    result = run([sys.executable, "manage.py", "check"], env)
    assert result.returncode == 2
    # A .env file may not supply it either: unset and empty are both refused by name.
    assert result.stderr.strip() in {
        "Kura configuration error: FIELD_ENCRYPTION_KEYS is not set.",
        "Kura configuration error: FIELD_ENCRYPTION_KEYS is empty: list at least one Fernet key.",
    }


@pytest.mark.django_db
def test_check_deploy_in_production_refuses_a_wrong_key_and_passes_with_the_right_one():
    wrong = run([sys.executable, "manage.py", "check", "--deploy"], production_env(FIELD_ENCRYPTION_KEYS=WRONG_KEY))
    assert wrong.returncode == 1
    assert f"(organizations.E001) {WRONG_KEYS_MESSAGE}" in wrong.stderr
    right = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert right.returncode == 0, right.stderr


@pytest.mark.django_db
def test_loading_the_wsgi_application_with_a_wrong_key_stops_with_one_line():
    command = [sys.executable, "-c", "import config.wsgi; print('served')"]
    wrong = run(command, production_env(FIELD_ENCRYPTION_KEYS=WRONG_KEY))
    assert wrong.returncode == 2
    assert [line for line in wrong.stderr.splitlines() if "error" in line.lower()] == [
        f"Kura configuration error: {WRONG_KEYS_MESSAGE}"
    ]
    assert "Traceback" not in wrong.stderr
    assert wrong.stdout == ""
    right = run(command, production_env())
    assert (right.returncode, right.stdout.strip()) == (0, "served"), right.stderr


@pytest.mark.django_db
def test_runserver_with_a_wrong_key_exits_instead_of_running_without_serving():
    command = [sys.executable, "manage.py", "runserver", "127.0.0.1:0"]
    result = run(command, production_env(FIELD_ENCRYPTION_KEYS=WRONG_KEY), timeout=60)
    assert result.returncode == 2
    assert f"Kura configuration error: {WRONG_KEYS_MESSAGE}" in result.stderr.splitlines()


def start_gunicorn(env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    command = [sys.executable, "-m", "gunicorn", "--config=config/gunicorn.conf.py", "--workers=2"]
    command += ["--bind=127.0.0.1:0", "--log-level=info"]
    started = time.monotonic()
    result = run(command, env, timeout=60)  # a crash loop never exits: TimeoutExpired fails the test
    return result, time.monotonic() - started


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("FIELD_ENCRYPTION_KEYS", "", "FIELD_ENCRYPTION_KEYS is empty: list at least one Fernet key."),
        (
            "FIELD_ENCRYPTION_KEYS",
            "c2hvcnQ=",
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes).",
        ),
        ("FIELD_ENCRYPTION_KEYS", WRONG_KEY, WRONG_KEYS_MESSAGE),
        ("CONN_MAX_AGE", "abc", "CONN_MAX_AGE is malformed: expected a whole number."),
    ],
)
def test_gunicorn_with_a_bad_key_or_setting_exits_promptly_instead_of_looping_workers(variable, value, line):
    result, seconds = start_gunicorn(production_env(**{variable: value}))
    assert result.returncode == 2
    assert seconds < 30
    assert f"Kura configuration error: {line}" in result.stderr.splitlines()
    assert "Booting worker" not in result.stderr
    assert "Traceback" not in result.stderr


# --- A value no listed key opens -----------------------------------------------------------------------------


@pytest.mark.usefixtures("committed")
def test_a_value_no_key_opens_shows_as_unavailable_and_the_patient_list_still_answers(settings, caplog):
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org_a):
        services.patient_create(**PATIENT, ssn="078-05-1121")
    with as_tenant(org_b):
        services.patient_create(**{**PATIENT, "mrn": "B-1"}, ssn="219-09-9999")
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT ssn FROM patients_patient WHERE mrn = 'A-1'")
        (stored,) = cursor.fetchone()
    client_a, client_b = api_client(issue_key(org_a)), api_client(issue_key(org_b))
    right_keys = settings.FIELD_ENCRYPTION_KEYS
    # The start-up check is bypassed: this process has a key that opens none of the stored values.
    settings.FIELD_ENCRYPTION_KEYS = [WRONG_KEY]

    with caplog.at_level(logging.ERROR, logger="apps.organizations.encryption"):
        listed = client_a.get("/api/v1/patients/")
    assert listed.status_code == 200
    assert [(p["mrn"], p["ssn_masked"]) for p in listed.json()["results"]] == [("A-1", "unavailable")]
    assert [r.getMessage() for r in caplog.records] == [
        "UndecryptableValueError: a stored patients.Patient.ssn cannot be decrypted with FIELD_ENCRYPTION_KEYS; "
        "shown as unavailable."
    ]
    assert stored not in caplog.text
    assert [p["mrn"] for p in client_b.get("/api/v1/patients/").json()["results"]] == ["B-1"]

    # Saving the patient writes the stored ciphertext back, not the word "unavailable".
    with as_tenant(org_a):
        patient = Patient.objects.get()
        patient.city = "Portland"
        patient.save()
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT ssn FROM patients_patient WHERE mrn = 'A-1'")
        assert cursor.fetchone() == (stored,)
    settings.FIELD_ENCRYPTION_KEYS = right_keys
    with as_tenant(org_a):
        assert Patient.objects.get().ssn == "078-05-1121"
        assert {h.ssn for h in Patient.history.all()} == {"078-05-1121"}
