"""Who may do what to billing (the permission map, see apps/organizations/access_map.py).

Coaches see none of it (and the database shows them no billing row anyway); clinicians may look (the
database shows them clinical charges only); owner, billing and front desk post charges and payments; owner and
billing set up payers and the billing provider and export claims.
"""

from apps.organizations.access_map import NOBODY, PARTNER_PHI, Rule, declare, roles
from apps.organizations.roles import Role

BILLING_READERS = roles(Role.OWNER, Role.BILLING, Role.FRONT_DESK, Role.CLINICIAN)
POSTERS = roles(Role.OWNER, Role.BILLING, Role.FRONT_DESK)
MANAGERS = roles(Role.OWNER, Role.BILLING)

# Charges, payments, refunds, applications, balances, aging and totals; the billing desk's pages. Entries are
# immutable: the admin lists them, the API and the desk post new ones. Statements and receipts cover every kind
# of charge (not only clinical ones), so they are for the people who post.
LEDGER = declare(
    "billing.ledger",
    read=BILLING_READERS,
    write=POSTERS,
    scope="billing",
    statement=Rule(POSTERS),
    receipt=Rule(POSTERS),
    # The billing desk's home (the work queue) and its statement run: for the people who work the money.
    desk=Rule(POSTERS),
    export=Rule(MANAGERS),  # the 837P export of unclaimed pending-insurance charges
    admin_read_only=True,
)
# Program enrollments are not clinical: clinicians see none of their charges, so none of the plans either.
INSTALLMENT_PLAN = declare(
    "billing.installment_plan", read=POSTERS, write=POSTERS, scope="billing", change=NOBODY, delete=NOBODY
)
INSURANCE_POLICY = declare("billing.insurance_policy", read=BILLING_READERS, write=POSTERS, scope="billing")
PAYER = declare("billing.payer", read=BILLING_READERS, write=MANAGERS, scope="billing")
PROVIDER = declare("billing.provider", read=BILLING_READERS, write=MANAGERS, scope="billing")
# Claims and their 837P files: made by the export, never edited by hand; exporting, downloading a file again,
# and correcting or voiding a claim are for owner and billing.
CLAIM = declare(
    "billing.claim",
    read=BILLING_READERS,
    download=Rule(MANAGERS),
    correct=Rule(MANAGERS),
    admin_read_only=True,
)

# Eligibility checks (270 asked, 271 answered): seen at check-in and asked again by the people who take the money.
ELIGIBILITY = declare("billing.eligibility", read=POSTERS, ask=Rule(POSTERS))

# Answers from the clearinghouse (999, 277CA, 835): importing them moves claims and posts money, so it is for
# owner and billing.
CLEARINGHOUSE_FILE = declare("billing.clearinghouse_file", read=MANAGERS, upload=Rule(MANAGERS), admin_read_only=True)

# The clearinghouse's SFTP account: its secrets are set by the owner alone; owner and billing see the connection
# (never its private key) and run the exchange (send the ready claims, fetch the answers, test the connection).
CLEARINGHOUSE_CONNECTION = declare(
    "billing.clearinghouse_connection", read=MANAGERS, write=roles(Role.OWNER), exchange=Rule(MANAGERS)
)
# PostgreSQL shows the connection's table to these roles only (billing migration 0012): jobs run as billing.
CLEARINGHOUSE_CONNECTION_DATABASE_ROLES = MANAGERS

# The roles PostgreSQL lets see billing tables at all (the tenant policy of billing migration 0006): every staff
# role that reads a billing resource, and partner keys (their scopes are checked above, not in SQL).
BILLING_DATABASE_ROLES = BILLING_READERS | {Role.PARTNER.value, PARTNER_PHI}
