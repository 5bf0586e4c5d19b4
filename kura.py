#!/usr/bin/env python3
"""Kura's one-stop launcher: `python3 kura.py run` serves the app, `python3 kura.py test` checks everything;
`python3 kura.py backup` and `python3 kura.py restore FILE` back up and restore the database.

Only the standard library is used here, so it runs on a fresh machine with nothing but Python 3.11+.
It creates `.venv`, installs the locked dependencies (`requirements/runtime.txt` for `run`, `requirements/dev.txt`
for `test`, with `pip install --require-hashes`, again only when the lock changes), and hands over to
`manage.py`, which starts the embedded PostgreSQL by itself when DATABASE_URL is unset. `python3 kura.py lock`
regenerates both locks from pyproject.toml.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import venv
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".kura-dependencies"


LOCKS = ROOT / "requirements"
RUNTIME_LOCK = LOCKS / "runtime.txt"
DEV_LOCK = LOCKS / "dev.txt"
LOCK_COMMAND = "python3 kura.py lock"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", re.MULTILINE)


def dependency_specs(*, development: bool) -> list[str]:
    """The requirements pyproject.toml declares: the runtime set, plus the development set (tests, linters)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *(project["optional-dependencies"]["dev"] if development else [])]


def normalized_name(name: str) -> str:
    """A distribution name as package indexes compare them (PEP 503): `Django_Filter` is `django-filter`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_names(*, development: bool) -> set[str]:
    names = set()
    for spec in dependency_specs(development=development):
        match = _NAME.match(spec)
        if match is None:
            sys.exit(f"pyproject.toml declares a dependency without a name: {spec!r}.")
        names.add(normalized_name(match.group(1)))
    return names


def locked_names(lock: Path) -> set[str]:
    """The distributions a lock file pins (`name==version` at the start of a line)."""
    return {normalized_name(name) for name in _PIN.findall(lock.read_text())} if lock.exists() else set()


def unlocked_dependencies(*, development: bool) -> list[str]:
    """What pyproject.toml declares but the lock for that set does not pin: the lock needs regenerating."""
    lock = DEV_LOCK if development else RUNTIME_LOCK
    return sorted(declared_names(development=development) - locked_names(lock))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_virtualenv(*, development: bool) -> None:
    """Create .venv and install the lock that is needed unless it is already installed: `run` needs the runtime
    lock only; `test` the development lock (which holds the runtime set too). A virtualenv with the development
    lock serves `run` too."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file may be started by an older python3
        sys.exit("Kura needs Python 3.11 or newer.")
    lock = DEV_LOCK if development else RUNTIME_LOCK
    missing = unlocked_dependencies(development=development)
    if missing:
        sys.exit(
            f"pyproject.toml declares {', '.join(missing)}, which {lock.relative_to(ROOT)} does not pin: "
            f"run `{LOCK_COMMAND}`."
        )
    if not PYTHON.exists():
        print("Creating the virtualenv in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    enough = {_digest(lock)} if development else {_digest(lock), _digest(DEV_LOCK)}
    if STAMP.exists() and STAMP.read_text() in enough:
        return
    print(f"Installing {lock.relative_to(ROOT)} into .venv ...", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock], check=True)
    STAMP.write_text(_digest(lock))


def command_lock(options: argparse.Namespace) -> int:
    """Regenerate both locks from pyproject.toml with uv (installed into .venv when missing): the development
    lock first, then the runtime lock constrained by it, so `run` and `test` get the same versions. Pins already
    in the locks are kept unless `--upgrade`."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    uv = VENV / "bin" / "uv"
    if not uv.exists():
        print("Installing uv into .venv ...", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "uv"], check=True)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest_python = re.search(r">=\s*(\d+\.\d+)", project["requires-python"])
    compile_lock = [
        uv, "pip", "compile", "pyproject.toml", "--quiet", "--generate-hashes", "--universal",
        "--python-version", oldest_python.group(1) if oldest_python else "3.11",
        "--custom-compile-command", LOCK_COMMAND,
        *(["--upgrade"] if options.upgrade else []),
    ]  # fmt: skip
    LOCKS.mkdir(exist_ok=True)
    for extra, lock in ((["--extra", "dev"], DEV_LOCK), (["--constraint", DEV_LOCK.relative_to(ROOT)], RUNTIME_LOCK)):
        code = subprocess.run([*compile_lock, *extra, "--output-file", lock.relative_to(ROOT)], cwd=ROOT).returncode
        if code != 0:
            print(f"Locking failed (uv exit {code}); {lock.relative_to(ROOT)} is unchanged.", flush=True)
            return code
        print(f"{lock.relative_to(ROOT)}: {len(locked_names(lock))} distributions pinned with hashes.", flush=True)
    return 0


# Debian programs the tests drive: (program, package, what needs it). `kura.py test` installs the missing ones.
TEST_PROGRAMS = [
    ("chromium", "chromium", "the browser tests"),
    ("nginx", "nginx", "the tests of nginx in front of gunicorn"),
    ("pgbouncer", "pgbouncer", "the connection-pooler tests"),
]


def _on_path(program: str) -> bool:
    # nginx lives in /usr/sbin, which a non-root PATH may lack.
    return bool(shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin"))


def ensure_test_programs() -> None:
    """Install the Debian packages the tests drive (Chromium, nginx) with apt-get (as root) when missing.

    The tests are never skipped without them, they fail; so this says plainly when it cannot install.
    """
    missing = [(program, package, purpose) for program, package, purpose in TEST_PROGRAMS if not _on_path(program)]
    if not missing:
        return
    packages = [package for _, package, _ in missing]
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        for program, _, purpose in missing:
            print(f"{program} is missing and apt-get as root is not available: {purpose} will fail.", flush=True)
        return
    print(f"Installing {', '.join(packages)} for the tests (apt-get install) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=300"]  # another apt run may hold the lock for a while
    install = [apt_get, *wait_for_lock, "install", "-y", "-q", *packages]
    # Try the package lists already on the machine first; refresh them when they are missing or stale.
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run([apt_get, *wait_for_lock, "update", "-q"], env=env, check=False)
        if subprocess.run(install, env=env, check=False).returncode != 0:
            print(f"Installing {', '.join(packages)} failed.", flush=True)
    for program, _, purpose in missing:
        if not _on_path(program):
            print(f"{program} is still not on PATH: {purpose} will fail.", flush=True)


def venv_run(*args: str | Path, check: bool = True, quiet: bool = False) -> int:
    """Run a command with the virtualenv's interpreter from the repository root."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    output = subprocess.DEVNULL if quiet else None
    return subprocess.run([PYTHON, *args], cwd=ROOT, env=env, check=check, stdout=output, stderr=output).returncode


def manage(*args: str, check: bool = True, quiet: bool = False) -> int:
    return venv_run("manage.py", *args, check=check, quiet=quiet)


def uses_embedded_database() -> bool:
    return not os.environ.get("DATABASE_URL")


@contextlib.contextmanager
def embedded_database_left_as_found() -> Iterator[None]:
    """Stop the embedded server afterwards if it was not running before (a command's connection starts it)."""
    was_running = not uses_embedded_database() or manage("embedded_db", "status", check=False, quiet=True) == 0
    try:
        yield
    finally:
        if not was_running:
            manage("embedded_db", "stop", check=False)


def command_run(options: argparse.Namespace) -> int:
    ensure_virtualenv(development=False)
    manage("migrate", "--no-input")
    manage("seed_demo")
    # The job worker runs beside the web server and stops with it.
    worker = subprocess.Popen(
        [PYTHON, "manage.py", "procrastinate", "worker"], cwd=ROOT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    )
    try:
        return manage("runserver", f"127.0.0.1:{options.port}", check=False)
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C while the worker and the database stop would leave them running: finish stopping first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_process(worker)
        if uses_embedded_database():
            manage("embedded_db", "stop", check=False)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ask a child process to stop (SIGTERM: a worker finishes its current job first), then make it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def command_test(options: argparse.Namespace) -> int:
    ensure_virtualenv(development=True)
    ensure_test_programs()
    steps: list[tuple[str, tuple[str, ...]]] = [
        ("ruff format", ("-m", "ruff", "format", "--check", ".")),
        ("ruff lint", ("-m", "ruff", "check", ".")),
        ("mypy", ("-m", "mypy", "apps", "config", "kura.py")),
        ("migrations", ("manage.py", "makemigrations", "--check", "--dry-run")),
        ("pytest", ("-m", "pytest", *options.pytest_args)),
    ]
    with embedded_database_left_as_found():
        for name, args in steps:
            print(f"\n=== {name} ===", flush=True)
            code = venv_run(*args, check=False)
            if code != 0:
                print(f"\n{name} failed (exit {code}).", flush=True)
                return code
        return 0


def command_backup(options: argparse.Namespace) -> int:
    ensure_virtualenv(development=False)
    # Paths are the caller's: manage.py runs from the repository root.
    output = Path(options.output).resolve() if options.output else Path.cwd()
    with embedded_database_left_as_found():
        return manage("kura_backup", "--output", str(output), check=False)


def command_restore(options: argparse.Namespace) -> int:
    ensure_virtualenv(development=False)
    with embedded_database_left_as_found():
        return manage("kura_restore", str(Path(options.file).resolve()), check=False)


def command_stop(_: argparse.Namespace) -> int:
    ensure_virtualenv(development=False)
    return manage("embedded_db", "stop", check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="set up, migrate, load demo data and serve on 127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(handler=command_run)
    test = sub.add_parser("test", help="lint, type-check, check migrations and run the whole test suite")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments for pytest")
    test.set_defaults(handler=command_test)
    backup = sub.add_parser("backup", help="back up the database (dump, roles, manifest; never the keys) to one file")
    backup.add_argument("--output", help="the backup file, or a folder for it (default: the current folder)")
    backup.set_defaults(handler=command_backup)
    restore = sub.add_parser("restore", help="restore a backup into an empty database and verify it")
    restore.add_argument("file", help="a file written by `kura.py backup`")
    restore.set_defaults(handler=command_restore)
    lock = sub.add_parser("lock", help="regenerate requirements/runtime.txt and requirements/dev.txt (with hashes)")
    lock.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    lock.set_defaults(handler=command_lock)
    stop = sub.add_parser("stop", help="stop the embedded PostgreSQL server")
    stop.set_defaults(handler=command_stop)
    options = parser.parse_args()
    return int(options.handler(options))


if __name__ == "__main__":
    sys.exit(main())
