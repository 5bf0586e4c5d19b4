"""Who may do what to the clinical record and the health-event timeline (the permission map, see
apps/organizations/access_map.py). PostgreSQL hides CLINICAL_PHI rows from the coach and from keys without PHI
access whatever the map lets them call."""

from apps.organizations.access_map import NOBODY, Resource, Rule, declare, register, roles
from apps.organizations.roles import STAFF_ROLES, Role

CLINICIANS = roles(Role.OWNER, Role.CLINICIAN)
# The front desk records encounters (check-in) and manual entries (vitals taken at the desk) too.
CLINICIANS_AND_DESK = roles(Role.OWNER, Role.CLINICIAN, Role.FRONT_DESK)
# Who works with patient-reported data: coaches see what the database lets them (wellness rows). Adherence,
# assessments and review flags are clinical: owners and clinicians. Billing and front desk need neither.
TIMELINE_READERS = roles(Role.OWNER, Role.CLINICIAN, Role.COACH)

ENCOUNTER = declare("clinical.encounter", read=STAFF_ROLES, write=CLINICIANS_AND_DESK, scope="clinical")
CLINICAL_EVENT = declare(
    "clinical.event",
    read=STAFF_ROLES,
    write=CLINICIANS,
    scope="clinical",
    manual_entry=Rule(CLINICIANS_AND_DESK, "clinical:write"),
)

# The timeline is append-only: the API adds rows, the admin only shows them.
HEALTH_EVENT = declare(
    "clinical.health_event", read=TIMELINE_READERS, write=TIMELINE_READERS, scope="timeline", admin_read_only=True
)
MEDICATION_ADHERENCE = declare("clinical.medication_adherence", read=CLINICIANS, scope="timeline")
ASSESSMENT = declare("clinical.assessment", read=CLINICIANS, write=CLINICIANS, scope="timeline", admin_read_only=True)
INSTRUMENT = declare("clinical.instrument", read=CLINICIANS, write=CLINICIANS, scope="timeline", admin_read_only=True)
ASSESSMENT_FLAG = declare(
    "clinical.assessment_flag",
    read=CLINICIANS,
    scope="timeline",
    review=Rule(CLINICIANS, "timeline:write"),
    admin_read_only=True,
)

# Progress notes: clinicians write, sign (their own) and amend them; partner keys with the clinical scope read
# them (PostgreSQL shows them only with PHI access). A note has a staff author, so no key writes one. The
# admin's note page only shows a note: it is written, signed and amended through the note pages.
CLINICAL_NOTE = register(
    Resource(
        "clinical.note",
        {
            "read": Rule(CLINICIANS, "clinical:read"),
            "write": Rule(CLINICIANS),
            "sign": Rule(CLINICIANS),
            "amend": Rule(CLINICIANS),
            "add": NOBODY,
            "change": NOBODY,
            "delete": NOBODY,
        },
    )
)
