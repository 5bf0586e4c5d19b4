"""The permission map, walked: every API operation and every admin URL, as every staff role and as partner keys,
answers what the map says; the second organization's objects stay out of reach; PostgreSQL's role functions agree.

The operations and admin URLs are enumerated from the URL resolver and the admin site, so a new endpoint is
covered without editing this file, and one whose view names no resource of the map fails here. The data (the
two demo organizations) is built once for the module and committed: requests run in their own transactions,
as in production.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pprint import pformat
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.billing import clearinghouse, eligibility, x12, x12_answers
from apps.billing.models import (
    ClaimBatch,
    ClearinghouseConnection,
    EligibilityCheck,
    InsurancePolicy,
    LedgerEntry,
    Payer,
)
from apps.billing.permissions import (
    BILLING_DATABASE_ROLES,
    CLAIM,
    ELIGIBILITY,
    INSURANCE_POLICY,
    LEDGER,
    PAYER,
    PROVIDER,
)
from apps.billing.permissions import INSTALLMENT_PLAN as PLAN
from apps.biomarkers.models import BiomarkerLog
from apps.clinical.models import AssessmentDefinition, AssessmentFlag, ClinicalEvent, ClinicalNote, Encounter
from apps.clinical.notes import services as note_services
from apps.clinical.permissions import ASSESSMENT, ASSESSMENT_FLAG
from apps.clinical.timeline import services as timeline_services
from apps.events import services as events_services
from apps.events.models import WebhookDelivery, WebhookEndpoint
from apps.fhir import permissions as fhir_permissions
from apps.fhir import views as fhir_views
from apps.organizations import context
from apps.organizations import services as organization_services
from apps.organizations.access_map import PARTNER_PHI, PHI_DATABASE_ROLES, Resource, permission_map
from apps.organizations.admin_base import UNDECLARED
from apps.organizations.management.commands.seed_demo import DEMO_NAMESPACE
from apps.organizations.models import Invitation, Membership, Organization
from apps.organizations.permissions import view_action, view_resource
from apps.organizations.roles import STAFF_ROLES, Role, Scope
from apps.patients import services as patient_services
from apps.patients.models import Consent, Patient, PHIAccessLog
from apps.scheduling.models import Appointment
from tests.billing.sftp_server import new_key, public_key_text
from tests.billing.x12_builders import build_999
from tests.conftest import api_client, issue_key, logged_in, truncate_all

ALL_SCOPES = sorted(Scope.values)
READ_SCOPES = sorted(s for s in Scope.values if s.endswith(":read"))
# Partner keys of organization A: (scopes, PHI access).
KEYS = {
    "all scopes, PHI access": (ALL_SCOPES, True),
    "all scopes, no PHI access": (ALL_SCOPES, False),
    "read scopes only": (READ_SCOPES, False),
    "patients:read only, PHI access": ([Scope.PATIENTS_READ.value], True),
}
STAFF = sorted(STAFF_ROLES)
WRITE_METHODS = ("post", "put", "patch", "delete")
# Admin site pages open to every member (no model, no resource): the index, the app lists, the shared
# autocomplete (which asks the target model's admin), translations, and the account pages.
SITE_WIDE_ADMIN_VIEWS = {"index", "app_list", "autocomplete", "jsi18n", "login", "logout"}
SITE_WIDE_ADMIN_VIEWS |= {"password_change", "password_change_done", "view_on_site"}


# --- the world: two demo organizations, committed once ----------------------------------------------------------


@dataclass
class Caller:
    name: str
    client: Client
    ctx: context.TenantContext


@dataclass
class World:
    org_a: Organization
    org_b: Organization
    staff: dict[str, Caller]
    keys: dict[str, Caller]
    # Path parameter -> value, per organization ("a", "b").
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    # Admin model -> primary key of one object, per organization.
    objects: dict[str, dict[type, Any]] = field(default_factory=dict)

    @property
    def callers(self) -> list[Caller]:
        return [*self.staff.values(), *self.keys.values()]


def _first(model: type, **filters: Any) -> Any:
    return model._default_manager.filter(**filters).order_by("pk").first()


def _admin_object(org: Organization, model: type) -> Any:
    user_model = get_user_model()
    if model is Organization:
        return org
    if model is user_model:
        return Membership.objects.filter(organization=org, role=Role.OWNER).get().user
    if model is Membership:
        # Not the owner's own: the last active owner's membership may never be removed, whoever asks.
        return _first(Membership, organization=org, role=Role.COACH)
    # Prefer a wellness row, which every role that may read the model sees.
    if any(f.name == "data_classification" for f in model._meta.fields):
        return _first(model, data_classification="GENERAL_WELLNESS") or _first(model)
    return _first(model)


def _build(org: Organization) -> tuple[dict[str, str], dict[type, Any]]:
    """Sample path parameters and one object per admin model; the demo lacks a claim file and an eligibility
    check, and maybe a review flag and a PHI access log row."""
    with context.tenant_context(org.id, Role.BILLING):
        if not ClaimBatch.objects.exists():
            batch = x12.claim_batch_export()
            assert batch is not None  # the demo has unclaimed pending-insurance charges
            answer = build_999(group_control_number=batch.interchange_control_number)
            assert x12_answers.clearinghouse_file_import(content=answer.encode("ascii")).created
        if not EligibilityCheck.objects.exists():
            eligibility.eligibility_check_request(policy=_first(InsurancePolicy))
    with context.tenant_context(org.id, Role.OWNER):
        if not ClearinghouseConnection.objects.exists():
            clearinghouse.clearinghouse_connection_save(
                host=f"sftp.{org.slug}.example",
                username=org.slug,
                private_key=new_key().export_private_key("openssh").decode("ascii"),
                host_key=public_key_text(new_key()),
            )
    with context.tenant_context(org.id, Role.OWNER):
        patient = _first(Patient)
        flag = _first(AssessmentFlag, reviewed_at__isnull=True)
        if flag is None:
            timeline_services.assessment_complete(patient=patient, instrument="phq9", answers=[0] * 8 + [2])
            flag = _first(AssessmentFlag, reviewed_at__isnull=True)
        note = _first(ClinicalNote)
        if note is None:
            clinician = Membership.objects.filter(organization=org, role=Role.CLINICIAN).order_by("pk").first().user
            with context.tenant_context(org.id, Role.CLINICIAN, user_id=clinician.pk):
                note = note_services.clinical_note_create(
                    author=clinician,
                    patient=_first(Encounter).patient,
                    encounter=_first(Encounter),
                    template="free_text",
                    sections={"text": "Seen for follow-up."},
                )
        if not AssessmentDefinition.objects.exists():
            timeline_services.assessment_definition_create(
                code="sleep-check",
                name="Sleep check",
                items=["Trouble falling asleep?", "Waking at night?"],
                min_answer=0,
                max_answer=3,
                bands=[{"min": 0, "max": 6, "label": "any"}],
            )
        params = {
            "patient_id": str(patient.pk),
            "entry_id": str(_first(LedgerEntry).pk),
            "charge_id": str(_first(LedgerEntry, installment_plan__isnull=False).pk),
            "plan_id": str(_first(LedgerEntry, installment_plan__isnull=False).installment_plan_id),
            "number": "1",
            "payer_id": str(_first(Payer).pk),
            "policy_id": str(_first(InsurancePolicy).pk),
            "encounter_id": str(_first(Encounter).pk),
            "event_id": str(_first(ClinicalEvent).pk),
            "consent_id": str(_first(Consent).pk),
            "flag_id": str(flag.pk),
            "note_id": str(note.pk),
            "template": "soap",
            "instrument": "phq9",
            "batch_id": str(_first(ClaimBatch).pk),
            "appointment_id": str(_first(Appointment).pk),
            "reading_id": str(_first(BiomarkerLog, data_classification="GENERAL_WELLNESS").pk),
        }
        owner = Membership.objects.filter(organization=org, role=Role.OWNER).get().user
        if not Invitation.objects.exists():
            organization_services.invitation_create(
                email=f"new-hire@{org.slug}.example", role=Role.COACH, invited_by=owner
            )
    # A webhook endpoint with one delivery: registered first, then an event it subscribes to, then the fan-out.
    with context.tenant_context(org.id, Role.OWNER):
        endpoint = (
            WebhookEndpoint.objects.first()
            or events_services.webhook_endpoint_create(
                url=f"https://hooks.{org.slug}.example/kura", event_types=["patient.changed"]
            )[0]
        )
        params["endpoint_id"] = str(endpoint.pk)
    with context.tenant_context(org.id, Role.OWNER):
        patient_services.patient_update(patient=patient, city="Harbourside")
    with context.tenant_context(org.id, Role.OWNER):
        events_services.webhook_fan_out(now=timezone.now())
        params["delivery_id"] = str(_first(WebhookDelivery).pk)
    # A read of a patient's record writes the organization's first PHI access log row.
    assert logged_in(owner).get(f"/api/v1/patients/{params['patient_id']}/").status_code == 200
    with context.tenant_context(org.id, Role.OWNER):
        objects = {model: _admin_object(org, model) for model in admin.site._registry}
    return params, objects


def _organization(slug: str) -> Organization:
    organization_id = uuid.uuid5(DEMO_NAMESPACE, slug)
    with context.tenant_context(organization_id, Role.OWNER):
        return Organization.objects.get(pk=organization_id)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("seed_demo", "--json", stdout=out)
        seeded = {org["slug"]: org for org in json.loads(out.getvalue())["organizations"]}
        org_a, org_b = _organization("harbor"), _organization("summit")
        user_model = get_user_model()
        staff = {}
        for user in seeded["harbor"]["users"]:
            ctx = context.TenantContext(organization_id=org_a.id, role=user["role"])
            staff[user["role"]] = Caller(
                user["role"], logged_in(user_model.objects.get(username=user["username"])), ctx
            )
        keys = {}
        for name, (scopes, phi) in KEYS.items():
            ctx = context.TenantContext(org_a.id, Role.PARTNER, scopes=frozenset(scopes), phi_access=phi)
            keys[name] = Caller(f"key with {name}", api_client(issue_key(org_a, scopes=scopes, phi_access=phi)), ctx)
        params_a, objects_a = _build(org_a)
        params_b, objects_b = _build(org_b)
        yield World(org_a, org_b, staff, keys, {"a": params_a, "b": params_b}, {"a": objects_a, "b": objects_b})
        truncate_all()


def _snapshot(world: World) -> dict[str, int]:
    """Row counts of every tenant table and history table of both organizations (the PHI access log aside:
    reads add to it)."""
    models = [
        model
        for model in apps.get_models()
        if model is not PHIAccessLog and any(f.name == "organization" for f in model._meta.concrete_fields)
    ]
    counts = {}
    for org in (world.org_a, world.org_b):
        with context.tenant_context(org.id, Role.OWNER):
            for model in models:
                counts[f"{org.slug}:{model._meta.label}"] = model._default_manager.count()
    with context.tenant_context(world.org_a.id, Role.OWNER):
        counts["revoked keys"] = (
            apps.get_model("organizations", "APIKey").objects.filter(revoked_at__isnull=False).count()
        )
    return counts


# --- the API ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    route: str
    view: Any
    method: str

    def path(self, params: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(2)
            assert name in params, f"{self.route}: no sample value for the path parameter {name!r}"
            return params[name]

        return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, self.route)

    @property
    def has_ids(self) -> bool:
        return "<" in self.route

    def __str__(self) -> str:
        return f"{self.method.upper()} /{self.route}"


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any, str | None]]:
    """(route, view, URL name) of every pattern below `patterns`."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback, pattern.name


def api_operations() -> list[Operation]:
    """Every (route, method) under /api/v1/, from the URL resolver."""
    operations = []
    for route, callback, _name in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        view = callback.cls
        for method in ("get", *WRITE_METHODS):
            if hasattr(view, method) and method in view.http_method_names:
                operations.append(Operation(route, view, method))
    return operations


def _resource_of(view: Any, method: str) -> tuple[Resource, str]:
    """The map's resource and action for one operation (the first test proves every operation has one)."""
    resource = view_resource(view)
    assert resource is not None, f"{view.__name__} names no resource of the permission map"
    return resource, view_action(view, method.upper())


def test_every_api_operation_is_an_action_of_a_resource_in_the_map() -> None:
    declared = permission_map()
    missing = []
    for operation in api_operations():
        resource, action = view_resource(operation.view), view_action(operation.view, operation.method.upper())
        if resource is None or declared.get(resource.name) is not resource or action not in resource.actions:
            missing.append(str(operation))
    assert len(api_operations()) > 50
    assert missing == []


def test_api_reads_answer_as_the_map_says_and_never_show_the_other_organization(world: World) -> None:
    wrong = []
    for operation in [op for op in api_operations() if op.method == "get"]:
        resource, action = _resource_of(operation.view, "get")
        for caller in world.callers:
            allowed = resource.allows(caller.ctx, action)
            response = caller.client.get(operation.path(world.params["a"]))
            ok = response.status_code == 403 if not allowed else response.status_code not in (403, 500)
            if not ok:
                wrong.append((str(operation), caller.name, "own", allowed, response.status_code))
            if not operation.has_ids:
                continue
            other = operation.path(world.params["b"])
            response = caller.client.get(other)
            if allowed:
                # The other organization's object is not found (or the request refused before any lookup).
                ok = response.status_code in (400, 404) and not any(
                    value in response.text for value in world.params["b"].values() if len(value) > 1
                )
            else:
                ok = response.status_code == 403
            if not ok:
                wrong.append((str(operation), caller.name, "org B", allowed, response.status_code))
    assert not wrong, pformat(wrong)


def test_api_writes_answer_as_the_map_says_and_denied_ones_change_nothing(world: World) -> None:
    before = _snapshot(world)
    wrong = []
    for operation in [op for op in api_operations() if op.method != "get"]:
        resource, action = _resource_of(operation.view, operation.method)
        # Org B's ids (allowed callers: 404, nothing to change) or an empty body (allowed callers: 400).
        path = operation.path(world.params["b"])
        for caller in world.callers:
            allowed = resource.allows(caller.ctx, action)
            send = getattr(caller.client, operation.method)
            response = send(path, data="{}", content_type="application/json")
            ok = response.status_code == 403 if not allowed else response.status_code in (400, 404)
            if not ok:
                wrong.append((str(operation), caller.name, allowed, response.status_code))
    assert not wrong, pformat(wrong)
    assert _snapshot(world) == before


def test_partner_keys_own_objects_follow_phi_access(world: World) -> None:
    """A CLINICAL_PHI clinical event of the organization: keys with PHI access read it, keys without get 404."""
    with context.tenant_context(world.org_a.id, Role.OWNER):
        event = _first(ClinicalEvent, data_classification="CLINICAL_PHI")
    statuses = {name: world.keys[name].client.get(f"/api/v1/clinical-events/{event.pk}/").status_code for name in KEYS}
    assert statuses == {
        "all scopes, PHI access": 200,
        "all scopes, no PHI access": 404,
        "read scopes only": 404,
        "patients:read only, PHI access": 403,
    }


# --- FHIR ------------------------------------------------------------------------------------------------------


def _fhir_allows(resource_type: str, ctx: context.TenantContext) -> bool:
    """The map's answer for a FHIR type: readable when the caller may read any of the tables it is made of."""
    if resource_type == "Questionnaire":
        return fhir_permissions.QUESTIONNAIRE.allows(ctx, "read")
    return any(source.resource.allows(ctx, "read") for source in fhir_views.TYPES[resource_type])


def test_every_fhir_type_reads_from_tables_whose_resources_are_in_the_map() -> None:
    declared = permission_map()
    resources = [source.resource for sources in fhir_views.TYPES.values() for source in sources]
    assert all(declared.get(resource.name) is resource for resource in [*resources, fhir_permissions.QUESTIONNAIRE])


def test_fhir_reads_answer_as_the_map_says_and_never_show_the_other_organization(world: World) -> None:
    wrong = []
    other_patient = world.params["b"]["patient_id"]
    for resource_type in fhir_views.SUPPORTED_TYPES:
        for caller in world.callers:
            allowed = _fhir_allows(resource_type, caller.ctx)
            response = caller.client.get(f"/fhir/R4/{resource_type}", {"_count": 100})
            if response.status_code != (200 if allowed else 403):
                wrong.append((resource_type, caller.name, allowed, response.status_code))
            elif allowed and other_patient in response.text:
                wrong.append((resource_type, caller.name, "shows the other organization's patient"))
    for caller in world.callers:
        allowed = _fhir_allows("Patient", caller.ctx)
        for path in (f"/fhir/R4/Patient/{other_patient}", f"/fhir/R4/Patient/{other_patient}/$everything"):
            status = caller.client.get(path).status_code
            if status != (404 if allowed else 403):
                wrong.append((path, caller.name, allowed, status))
    assert not wrong, pformat(wrong)


# --- the admin -------------------------------------------------------------------------------------------------

MODEL_PAGES = ("changelist", "add", "change", "delete", "history")
PAGE_ACTION = {"changelist": "view", "add": "add", "change": "view", "delete": "delete", "history": "view"}


def _model_page(model: type, page: str, pk: Any = None) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}"
    return reverse(name) if pk is None else reverse(name, args=[pk])


def test_every_admin_class_and_admin_page_is_in_the_map() -> None:
    declared = permission_map()
    undeclared = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if model_admin.resource is UNDECLARED or declared.get(model_admin.resource.name) is not model_admin.resource
    ]
    _guarded, methods = _admin_pages()
    undeclared += [
        name for name, model_admin, method in methods if model_admin is None or method not in MODEL_ADMIN_PAGES
    ]
    assert undeclared == []


# Pages of a model admin beyond its five, by the method that serves them: the map's action they need.
MODEL_ADMIN_PAGES = {"history_form_view": "view", "user_change_password": "change"}


def _admin_pages() -> tuple[list[tuple[str, Any]], list[tuple[str, Any, str]]]:
    """The admin's pages beyond each model's five (which carry their `model_admin`) and the site's own:
    pages checked with `guarded_view` (route, view), and other methods of a model admin (route, admin, method)."""
    guarded, methods = [], []
    for route, callback, name in _walk(get_resolver().url_patterns):
        if not route.startswith("admin/") or name in SITE_WIDE_ADMIN_VIEWS or name is None:
            continue
        if getattr(callback, "model_admin", None) is not None:
            continue
        bound = getattr(callback, "__wrapped__", None)
        if hasattr(callback, "access"):
            guarded.append((route, callback))
        else:
            methods.append((name, getattr(bound, "__self__", None), getattr(bound, "__name__", route)))
    return guarded, methods


def test_admin_model_pages_answer_as_the_map_says_and_never_show_the_other_organization(world: World) -> None:
    wrong = []
    for model, model_admin in admin.site._registry.items():
        resource = model_admin.resource
        own, other = world.objects["a"][model], world.objects["b"][model]
        for caller in world.staff.values():
            for page in MODEL_PAGES:
                allowed = resource.allows(caller.ctx, PAGE_ACTION[page])
                url = _model_page(model, page) if page in ("changelist", "add") else _model_page(model, page, own.pk)
                status = caller.client.get(url).status_code
                # The owner sees every row of its organization; for other roles PostgreSQL may hide the row (a PHI
                # row from the coach, a retail charge from the clinician): a redirect, or 404 for its history.
                seen = (200,) if caller.name == Role.OWNER else (200, 302, 404)
                if page == "history" and not getattr(model_admin, "has_history", True):
                    seen = (404,)  # a model without a change history
                ok = status == 403 if not allowed else status in seen
                if not ok:
                    wrong.append((model._meta.label, page, caller.name, allowed, status))
            for page in ("change", "delete", "history"):
                status = caller.client.get(_model_page(model, page, other.pk)).status_code
                if status == 200:
                    wrong.append((model._meta.label, page, caller.name, "org B shown", status))
            if resource.allows(caller.ctx, "view"):
                listing = caller.client.get(_model_page(model, "changelist")).content.decode()
                if _model_page(model, "change", other.pk) in listing:
                    wrong.append((model._meta.label, "changelist", caller.name, "lists org B", 200))
    assert not wrong, pformat(wrong)


def _page_args(world: World, name: str, model: type, side: str) -> list[Any]:
    obj = world.objects[side][model]
    if not name.endswith("_simple_history"):
        return [obj.pk]
    organization = world.org_a if side == "a" else world.org_b
    with context.tenant_context(organization.id, Role.OWNER):
        version = obj.history.order_by("-history_date").first() if hasattr(obj, "history") else None
    return [obj.pk, version.history_id if version else 1]


def test_admin_model_pages_beyond_the_five_answer_as_the_map_says(world: World) -> None:
    """Historical versions and the password page, as the model admin's resource says."""
    _views, methods = _admin_pages()
    assert methods
    wrong = []
    for name, model_admin, method in methods:
        model = model_admin.model
        own, other = (reverse(f"admin:{name}", args=_page_args(world, name, model, side)) for side in ("a", "b"))
        for caller in world.staff.values():
            allowed = model_admin.resource.allows(caller.ctx, MODEL_ADMIN_PAGES[method])
            status = caller.client.get(own).status_code
            if status == 500 or (status == 403) == allowed:
                wrong.append((name, caller.name, "own", allowed, status))
            status = caller.client.get(other).status_code
            if status in (200, 500):
                wrong.append((name, caller.name, "org B", allowed, status))
    assert not wrong, pformat(wrong)


def test_admin_pages_beyond_the_model_pages_answer_as_the_map_says(world: World) -> None:
    views, _methods = _admin_pages()
    assert len(views) >= 8
    wrong = []
    for route, callback in views:
        resource, action = callback.access
        for caller in world.staff.values():
            allowed = resource.allows(caller.ctx, action)
            for side in ("a", "b") if "<" in route else ("a",):
                path = Operation(route, None, "get").path(world.params[side])
                status = caller.client.get(path).status_code
                ok = status == 403 if not allowed else (status not in (403, 500) if side == "a" else status == 404)
                if not ok:
                    wrong.append((route, caller.name, side, allowed, status))
    assert not wrong, pformat(wrong)


def test_admin_is_for_signed_in_staff_only_not_partner_keys(world: World) -> None:
    response = world.keys["all scopes, PHI access"].client.get(_model_page(Patient, "changelist"))
    assert (response.status_code, response["Location"].split("?")[0]) == (302, "/admin/login/")


def _admin_actions(model_admin: Any) -> dict[str, tuple[str, ...]]:
    """Each admin action of a model admin (the site's `delete_selected` included) -> the permissions it needs."""
    names = ["delete_selected", *(model_admin.actions or [])]
    functions = {name: getattr(model_admin, name, None) or admin.site.get_action(name) for name in names}
    return {name: tuple(getattr(function, "allowed_permissions", ())) for name, function in functions.items()}


def test_every_admin_action_needs_a_permission_of_the_map() -> None:
    unguarded = [
        (model._meta.label, name)
        for model, model_admin in admin.site._registry.items()
        for name, permissions in _admin_actions(model_admin).items()
        if not permissions or not all(hasattr(model_admin, f"has_{p}_permission") for p in permissions)
    ]
    assert unguarded == []


def test_admin_writes_by_denied_roles_are_refused_and_change_nothing(world: World) -> None:
    """POSTs by every role the map denies: delete an own object, and run each admin action on it."""
    before = _snapshot(world)
    wrong = []
    for model, model_admin in admin.site._registry.items():
        resource, own = model_admin.resource, world.objects["a"][model]
        for caller in world.staff.values():
            if not resource.allows(caller.ctx, "delete"):
                status = caller.client.post(_model_page(model, "delete", own.pk), {"post": "yes"}).status_code
                if status != 403:
                    wrong.append((model._meta.label, "delete", caller.name, status))
            may_view = resource.allows(caller.ctx, "view")
            for name, permissions in _admin_actions(model_admin).items():
                if may_view and all(resource.allows(caller.ctx, p) for p in permissions):
                    continue
                body = {"action": name, "_selected_action": [own.pk]}
                status = caller.client.post(_model_page(model, "changelist"), body).status_code
                # Without the view permission the list itself is refused; with it, Django ignores an action the
                # role may not run (and the snapshot shows it changed nothing).
                if (status != 403) if not may_view else (status not in (200, 302)):
                    wrong.append((model._meta.label, name, caller.name, status))
    assert not wrong, pformat(wrong)
    assert _snapshot(world) == before


def test_patient_page_panels_follow_the_map(world: World) -> None:
    """The patient page shows the billing, assessment and review panels to the roles the map lets read them."""
    with context.tenant_context(world.org_a.id, Role.OWNER):
        patient_id = _first(AssessmentFlag, reviewed_at__isnull=True).patient_id
    panels = {"Billing": LEDGER, "Assessments": ASSESSMENT, "Needs review": ASSESSMENT_FLAG}
    shown, expected = {}, {}
    for caller in world.staff.values():
        page = caller.client.get(_model_page(Patient, "change", patient_id)).content.decode()
        titles = set(re.findall(r'<h2 id="[a-z-]+-title">([^<]+)</h2>', page))
        shown[caller.name] = sorted(title for title in panels if title in titles)
        expected[caller.name] = sorted(
            title for title, resource in panels.items() if resource.allows(caller.ctx, "read")
        )
    assert shown == expected
    assert expected[Role.COACH] == []
    assert expected[Role.OWNER] == sorted(panels)


def test_patient_ledger_offers_the_links_the_map_allows(world: World) -> None:
    patient_id = world.params["a"]["patient_id"]
    links = {
        reverse("admin:billing_post_payment", args=[patient_id]): (LEDGER, "write"),
        reverse("admin:billing_statement", args=[patient_id]): (LEDGER, "statement"),
        reverse("admin:billing_superbill", args=[patient_id]): (LEDGER, "read"),
        reverse("admin:billing_installmentplan_add"): (PLAN, "add"),
    }
    shown, expected = {}, {}
    for caller in world.staff.values():
        if not LEDGER.allows(caller.ctx, "read"):
            continue
        page = caller.client.get(reverse("admin:billing_patient_ledger", args=[patient_id])).content.decode()
        shown[caller.name] = sorted(url for url in links if f'href="{url}' in page)
        expected[caller.name] = sorted(
            url for url, (resource, action) in links.items() if resource.allows(caller.ctx, action)
        )
    assert shown == expected
    assert sorted(expected) == sorted(LEDGER.roles("read"))


# --- the database agrees ---------------------------------------------------------------------------------------


def _database_role_contexts(org: Organization) -> dict[str, Any]:
    contexts = {role: context.tenant_context(org.id, role) for role in STAFF}
    contexts[Role.PARTNER.value] = context.tenant_context(org.id, Role.PARTNER, scopes=frozenset(ALL_SCOPES))
    contexts[PARTNER_PHI] = context.tenant_context(org.id, Role.PARTNER, scopes=frozenset(ALL_SCOPES), phi_access=True)
    return contexts


def test_sql_role_functions_agree_with_the_map(world: World) -> None:
    """kura_phi_allowed() and the billing tables' tenant policy admit exactly the roles the map names."""
    phi, billing = set(), set()
    for database_role, tenant in _database_role_contexts(world.org_a).items():
        with tenant as ctx, connections["default"].cursor() as cursor:
            assert ctx.database_role == database_role
            cursor.execute("SELECT kura_phi_allowed()")
            if cursor.fetchone()[0]:
                phi.add(database_role)
            if Payer.objects.exists():
                billing.add(database_role)
            assert ctx.can_read_phi == (database_role in PHI_DATABASE_ROLES)
    assert phi == PHI_DATABASE_ROLES
    assert billing == BILLING_DATABASE_ROLES
    # The staff roles the billing policy admits are those the billing resources let read something.
    readers = set().union(
        *(
            r.roles("read") | r.roles("write")
            for r in (LEDGER, PLAN, INSURANCE_POLICY, PAYER, PROVIDER, CLAIM, ELIGIBILITY)
        )
    )
    assert readers == BILLING_DATABASE_ROLES & STAFF_ROLES
