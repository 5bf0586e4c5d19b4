"""A streaming replica of the test server: a second PostgreSQL made with `pg_basebackup -R` from the embedded one
(wal_level `replica`, local replication connections of its superuser allowed), started with `pg_ctl` on its own
socket folder, stopped and removed afterwards. As root, every program runs as the embedded server's system user.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.db import connections

from config import embedded_db

PORT = 5432  # its own socket folder: no other server listens there
REPLAY_SECONDS = 30
SUPERUSER = "postgres"


@dataclass(frozen=True)
class Replica:
    data: Path
    socket_dir: str
    port: int
    database: str

    def url(self, user: str) -> str:
        return f"postgresql://{user}@/{self.database}?host={self.socket_dir}&port={self.port}"

    def connect(self, user: str, database: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user=user, dbname=database or self.database, autocommit=True
        )

    def pause_replay(self) -> None:
        with self.connect(SUPERUSER, "postgres") as connection:
            connection.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.connect(SUPERUSER, "postgres") as connection:
            connection.execute("SELECT pg_wal_replay_resume()")

    def wait_for_replay(self) -> None:
        """Return once the replica has replayed everything the primary had written when this was called."""
        server = embedded_db.ensure_running()
        with psycopg.connect(host=server.socket_dir, port=server.port, user=SUPERUSER, dbname="postgres") as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert row is not None
        deadline = time.monotonic() + REPLAY_SECONDS
        with self.connect(SUPERUSER, "postgres") as replica:
            while time.monotonic() < deadline:
                replayed = replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [row[0]]).fetchone()
                if replayed == (True,):
                    return
                time.sleep(0.1)
        raise AssertionError(f"The replica did not replay the primary's writes within {REPLAY_SECONDS}s.")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _run(program: str, *args: str) -> None:
    result = subprocess.run(
        [str(embedded_db.bin_dir() / program), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        user=embedded_db.system_user(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@contextmanager
def streaming_replica() -> Iterator[Replica]:
    """A hot standby of the embedded server, caught up with it; this session's test database included."""
    server = embedded_db.ensure_running()
    folder = Path(tempfile.mkdtemp(prefix="kura-replica-"))
    system_user = embedded_db.system_user()
    if system_user is not None:
        shutil.chown(folder, system_user)
    replica = Replica(
        data=folder / "data",
        socket_dir=str(folder),
        port=PORT,
        database=str(connections["default"].settings_dict["NAME"]),
    )
    try:
        _run(
            "pg_basebackup",
            f"--host={server.socket_dir}",
            f"--port={server.port}",
            f"--username={SUPERUSER}",
            f"--pgdata={replica.data}",
            "--write-recovery-conf",  # standby.signal, and primary_conninfo naming the primary's socket
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        _run(
            "pg_ctl",
            "-D",
            str(replica.data),
            "-l",
            str(folder / "replica.log"),
            "-o",
            f"-p {PORT} -k {folder} -h ''",  # its own socket folder, no TCP
            "-w",
            "start",
        )
        replica.wait_for_replay()
        yield replica
    finally:
        try:
            replica.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
