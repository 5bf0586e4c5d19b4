"""Who may do what to patients' records (the permission map, see apps/organizations/access_map.py)."""

from apps.organizations.access_map import OWNER_ONLY, Rule, declare, roles
from apps.organizations.roles import STAFF_ROLES, Role

# Every member sees the patient list (coaches included: demographics are not CLINICAL_PHI); the people who
# register and look after patients change them.
PATIENT_EDITORS = roles(Role.OWNER, Role.CLINICIAN, Role.FRONT_DESK)

# A full SSN is shown only on request, each time logged: to the roles that bill and register patients, and to
# keys with PHI access (never the coach; not the clinician, who has no need for it).
SSN_REVEALERS = roles(Role.OWNER, Role.BILLING, Role.FRONT_DESK)

PATIENT = declare(
    "patients.patient",
    read=STAFF_ROLES,
    write=PATIENT_EDITORS,
    scope="patients",
    reveal_ssn=Rule(SSN_REVEALERS, "patients:read", phi=True),
)
CONSENT = declare("patients.consent", read=STAFF_ROLES, write=PATIENT_EDITORS, scope="patients")
# Owners review who read what; nobody edits the log (the database refuses it anyway).
PHI_ACCESS_LOG = declare("patients.phi_access_log", read=OWNER_ONLY, admin_read_only=True)
