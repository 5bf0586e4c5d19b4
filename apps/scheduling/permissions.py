"""Who may do what to the schedule (the permission map, see apps/organizations/access_map.py).

Every member reads the schedule; PostgreSQL narrows a coach to their own sessions and never shows anyone
without PHI access an appointment's (clinical) reason. The front desk books, moves, cancels and checks in; the
owner sets up providers, locations, rooms and appointment types.
"""

from apps.organizations.access_map import Rule, declare, roles
from apps.organizations.roles import STAFF_ROLES, Role

OWNERS = roles(Role.OWNER)
# Who books, moves, cancels and checks in (clinicians manage their own day too).
BOOKERS = roles(Role.OWNER, Role.FRONT_DESK, Role.CLINICIAN)
# Who works from the calendar: everyone but billing.
CALENDAR_USERS = roles(Role.OWNER, Role.FRONT_DESK, Role.CLINICIAN, Role.COACH)

PROVIDER = declare("scheduling.provider", read=STAFF_ROLES, write=OWNERS, scope="scheduling")
LOCATION = declare("scheduling.location", read=STAFF_ROLES, write=OWNERS, scope="scheduling")
# Weekly hours and time off: the owner and the front desk keep them.
AVAILABILITY = declare("scheduling.availability", read=STAFF_ROLES, write=roles(Role.OWNER, Role.FRONT_DESK))
APPOINTMENT_TYPE = declare("scheduling.appointment_type", read=STAFF_ROLES, write=OWNERS, scope="scheduling")
# Free slots are a read of availability minus bookings.
FREE_SLOTS = declare("scheduling.free_slots", read=CALENDAR_USERS, scope="scheduling")
APPOINTMENT = declare(
    "scheduling.appointment",
    read=STAFF_ROLES,
    write=BOOKERS,
    scope="scheduling",
    transition=Rule(BOOKERS, "scheduling:write"),
    check_in=Rule(BOOKERS, "scheduling:write"),
    admin_read_only=True,  # booked, moved and cancelled through the calendar's services, not the model form
)
# The recurring series a booking made: the calendar shows them, the services change them.
SERIES = declare("scheduling.series", read=STAFF_ROLES, admin_read_only=True)
# The calendar and the today board (pages).
CALENDAR = declare("scheduling.calendar", read=CALENDAR_USERS, write=BOOKERS, check_in=Rule(BOOKERS))
