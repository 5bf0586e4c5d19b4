"""Who may do what to biomarker readings (the permission map, see apps/organizations/access_map.py). Every
member reads them (PostgreSQL shows the coach and keys without PHI access the wellness readings only); readings
arrive through ingestion, which the people who work with them (and device partners) may run."""

from apps.organizations.access_map import declare, roles
from apps.organizations.roles import STAFF_ROLES, Role

READING = declare(
    "biomarkers.reading",
    read=STAFF_ROLES,
    write=roles(Role.OWNER, Role.CLINICIAN, Role.COACH),
    scope="biomarkers",
    admin_read_only=True,  # the admin shows readings (and their history), ingestion adds them
)
