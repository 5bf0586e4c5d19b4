"""seed_demo, the API documentation, and production configuration."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.organizations.roles import Role
from apps.patients.demo import DEMO_PATIENTS
from tests.conftest import api_client
from tests.logins import sign_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("committed")
def test_seed_demo_is_idempotent_and_its_logins_and_keys_work():
    first, second = StringIO(), StringIO()
    call_command("seed_demo", "--json", stdout=first)
    call_command("seed_demo", "--json", stdout=second)
    seeded = json.loads(first.getvalue())
    assert seeded == json.loads(second.getvalue())

    organizations = seeded["organizations"]
    assert [o["slug"] for o in organizations] == ["harbor", "summit"]
    for org in organizations:
        assert sorted(u["role"] for u in org["users"]) == sorted(r.value for r in Role if r != Role.PARTNER)
        me = api_client(org["api_key"]).get("/api/v1/me/").json()
        assert (me["kind"], me["organization"]["slug"]) == ("partner", org["slug"])
        patients = api_client(org["api_key"]).get("/api/v1/patients/").json()
        assert patients["count"] == len(DEMO_PATIENTS)  # a second run added nothing

    from django.test import Client

    client = Client()
    owner = organizations[0]["users"][0]
    sign_in(client, owner["username"], owner["password"])
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_openapi_schema_and_swagger_ui_are_served_from_local_files(client):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")
    assert schema.status_code == 200
    assert b"/api/v1/patients/" in schema.content
    assert b"ApiKeyAuth" in schema.content
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html
    assert "http://" not in html.replace("http://testserver", "")


def _run_production(extra_env, *args):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL", "DATABASE_OWNER_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# Production settings against a real database (check --deploy, keys, malformed settings, gunicorn):
# tests/organizations/test_key_safety.py.
def test_production_without_required_variables_is_a_one_line_error():
    result = _run_production({}, "check")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Kura configuration error:")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("committed")
def test_seed_demo_adds_a_consent_gated_wearable_key_beside_the_clinics_own_integration():
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    organizations = json.loads(out.getvalue())["organizations"]
    for org in organizations:
        assert org["wearable_api_key"] != org["api_key"]
        assert org["wearable_api_key_scopes"] == ["biomarkers:read", "biomarkers:write", "patients:read"]
        own = api_client(org["api_key"]).get("/api/v1/patients/?limit=50").json()
        wearable = api_client(org["wearable_api_key"]).get("/api/v1/patients/?limit=50").json()
        assert own["count"] == len(DEMO_PATIENTS)
        # The demo's valid data-sharing consents: the third and fifth patients of each organization.
        prefix = org["slug"][:3].upper()
        assert sorted(p["mrn"] for p in wearable["results"]) == [f"{prefix}-1003", f"{prefix}-1005"]
        hidden = next(p for p in own["results"] if p["mrn"] == f"{prefix}-1001")
        assert api_client(org["wearable_api_key"]).get(f"/api/v1/patients/{hidden['id']}/").status_code == 404
        assert api_client(org["wearable_api_key"]).get("/api/v1/billing/entries/").status_code == 403
