"""One pass of the job runner's worker in a test: every job that is due runs, then the pass returns."""

from __future__ import annotations

from asgiref.sync import SyncToAsync
from django.db import connections

from apps.organizations.jobs import worker_app


def run_worker() -> None:
    """Run every due job once. The pass leaves a connection in asgiref's one thread for thread-sensitive calls;
    it is closed here, as the test database must have no session left when it is dropped."""
    worker_app().run_worker(wait=False, install_signal_handlers=False, listen_notify=False)
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
