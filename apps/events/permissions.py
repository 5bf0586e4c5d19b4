"""Who may read the event feed and manage webhooks (the permission map, see apps/organizations/access_map.py).

The feed itself is for every member and every key with `events:read`; which events each caller then sees is the
read rule of each event's subject (`types.py`) and PostgreSQL's PHI policy. Webhook endpoints deliver events out
of the clinic: the owner manages them in the admin, a partner key with `webhooks:write` registers its own.
"""

from apps.organizations.access_map import NOBODY, OWNER_ONLY, Resource, Rule, declare, register
from apps.organizations.roles import STAFF_ROLES

EVENT = register(Resource("events.event", {"read": Rule(STAFF_ROLES, "events:read")}))
# Endpoints are deactivated, never deleted: their deliveries and attempts are the record of what left the clinic.
WEBHOOK_ENDPOINT = declare(
    "events.webhook_endpoint", read=OWNER_ONLY, write=OWNER_ONLY, scope="webhooks", delete=NOBODY
)
# Deliveries and their attempts are made by the job runner; the owner or the registering key replays one.
WEBHOOK_DELIVERY = declare(
    "events.webhook_delivery",
    read=OWNER_ONLY,
    scope="webhooks",
    admin_read_only=True,
    replay=Rule(OWNER_ONLY, "webhooks:write"),
)
