"""Settings for the app served by gunicorn during the live tests (fuzzing, isolation under load).

The test settings, pointed at the test database the owner role created for this pytest session. Both aliases
keep their roles: requests run as the runtime role, exactly as in production.
"""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES

for _alias in DATABASES.values():
    _alias["NAME"] = os.environ["KURA_LIVE_DATABASE_NAME"]
