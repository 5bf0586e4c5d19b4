"""Demo data: two organizations, one user per role with a known password and authenticator secret, and two
partner API keys each: the clinic's own integration (every scope, no PHI, no patient consent needed) and a
wearable vendor's (kept to the patients with a valid data-sharing consent).

Idempotent: running it again changes nothing and prints the same logins. Each organization is entered
explicitly with its tenant context; nothing here needs the owner role.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from apps.organizations import context, second_factor, services
from apps.organizations.discovery import kura_app_modules
from apps.organizations.models import APIKey, Membership, Organization, Partner
from apps.organizations.roles import Role, Scope

DEMO_NAMESPACE = uuid.UUID("6f1c2a52-52f5-4c55-9a43-6b1b0e0c7a10")
DEMO_ORGANIZATIONS = [("harbor", "Harbor Family Clinic"), ("summit", "Summit Wellness Center")]
STAFF_ROLES = [Role.OWNER, Role.CLINICIAN, Role.COACH, Role.BILLING, Role.FRONT_DESK]
WEARABLE_SCOPES = sorted([Scope.PATIENTS_READ.value, Scope.BIOMARKERS_READ.value, Scope.BIOMARKERS_WRITE.value])


def demo_password(role: str) -> str:
    """Passes every password validator (12 characters at least, not too like the username)."""
    return f"kura-{role.replace('_', '-')}-demo-login"


def demo_totp_key(username: str) -> str:
    """A fixed authenticator key per demo user (hex, as django-otp stores it), so repeated runs print the same
    secret and a newcomer's authenticator app keeps working (demo data only)."""
    return hashlib.sha256(f"kura-demo-totp-{username}".encode()).hexdigest()[:40]


def demo_api_key(slug: str) -> str:
    """A fixed key per demo organization, so repeated runs print a key that works (demo data only)."""
    digest = hashlib.sha256(f"kura-demo-partner-{slug}".encode()).digest()
    secret = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"kura_{hashlib.sha256(slug.encode()).hexdigest()[:12]}_{secret}"


class Command(BaseCommand):
    help = "Create (or keep) the demo organizations, users, partner keys and sample records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the demo logins as JSON on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = [self._seed_organization(slug, name) for slug, name in DEMO_ORGANIZATIONS]
        if options["json"]:
            self.stdout.write(json.dumps({"organizations": summary}, indent=2))
            return
        self.stdout.write("Demo logins (http://127.0.0.1:8000/admin/):")
        for org in summary:
            self.stdout.write(f"\n  {org['name']} ({org['slug']})")
            for user in org["users"]:
                self.stdout.write(
                    f"    {user['role']:<11} {user['username']:<20} password: {user['password']:<27}"
                    f" TOTP secret: {user['totp_secret']}"
                )
            self.stdout.write(f"    partner API key ({', '.join(org['api_key_scopes'])}):\n      {org['api_key']}")
            self.stdout.write(
                f"    wearable vendor key, consenting patients only ({', '.join(org['wearable_api_key_scopes'])}):"
                f"\n      {org['wearable_api_key']}"
            )

    def _seed_organization(self, slug: str, name: str) -> dict[str, Any]:
        organization_id = uuid.uuid5(DEMO_NAMESPACE, slug)
        with context.tenant_context(organization_id, Role.OWNER):
            exists = Organization.objects.filter(pk=organization_id).exists()
        if not exists:
            services.organization_create(name=name, slug=slug, organization_id=organization_id)
        users = []
        with context.tenant_context(organization_id, Role.OWNER):
            for role in STAFF_ROLES:
                users.append(self._seed_user(organization_id, slug, role))
            raw_key, scopes = demo_api_key(slug), sorted(Scope.values)
            self._seed_key(f"{name} clinic integration", Partner.Kind.OTHER, False, raw_key, scopes)
            wearable_key = demo_api_key(f"{slug}-wearable")
            self._seed_key(f"{name} wearable vendor", Partner.Kind.WEARABLE, True, wearable_key, WEARABLE_SCOPES)
            self._seed_app_data(slug)
        return {
            "slug": slug,
            "name": name,
            "users": users,
            "api_key": raw_key,
            "api_key_scopes": scopes,
            "wearable_api_key": wearable_key,
            "wearable_api_key_scopes": WEARABLE_SCOPES,
        }

    def _seed_key(self, name: str, kind: str, consent: bool, raw_key: str, scopes: list[str]) -> None:
        """The partner (`consent`: kept to consenting patients) and its demo key, unless they exist."""
        key = APIKey.objects.filter(hashed_key=hashlib.sha256(raw_key.encode()).hexdigest()).first()
        partner = key.partner if key else Partner.objects.filter(name=name).first()
        if partner is None:
            partner = services.partner_create(name=name, kind=kind, requires_patient_consent=consent)
        elif partner.requires_patient_consent != consent:  # a database seeded before partners needed consent
            partner.requires_patient_consent = consent
            partner.save(update_fields=["requires_patient_consent", "updated_at"])
        if key is None:
            services.api_key_create(partner=partner, name="Demo key", scopes=scopes, raw_key=raw_key)

    def _seed_user(self, organization_id: uuid.UUID, slug: str, role: str) -> dict[str, str]:
        username = f"{slug}-{role.replace('_', '-')}"
        password = demo_password(role)
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_user(username=username, password=password, is_staff=True)
        elif not user.check_password(password):  # seeded with an earlier demo password
            user.set_password(password)
            user.save(update_fields=["password"])
        if not Membership.objects.filter(organization_id=organization_id, user=user).exists():
            services.membership_create(user=user, role=role)
        device = second_factor.totp_device_install(user=user, key=demo_totp_key(username))
        return {
            "username": username,
            "password": password,
            "role": role,
            "totp_secret": second_factor.totp_secret(device),
        }

    def _seed_app_data(self, slug: str) -> None:
        """Each app's optional `demo.seed(slug=...)`, in INSTALLED_APPS order (patients before what refers to them)."""
        for module in kura_app_modules("demo"):
            module.seed(slug=slug)
