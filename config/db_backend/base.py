"""PostgreSQL backend that starts the embedded server on first connection when settings ask for it."""

from typing import Any

from django.db.backends.postgresql import base

from config import embedded_db


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if self.settings_dict.get("EMBEDDED"):
            address = embedded_db.ensure_running()
            params["host"] = address.socket_dir
            params["port"] = address.port
        return params
