#!/usr/bin/env python3
"""Kura's one-stop launcher: `python3 kura.py run` serves the app, `python3 kura.py test` checks everything.

Only the standard library is used here, so it runs on a fresh machine with nothing but Python 3.11+.
It creates `.venv`, installs the dependencies declared in pyproject.toml (again only when they change),
and hands over to `manage.py`, which starts the embedded PostgreSQL by itself when DATABASE_URL is unset.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".kura-dependencies"


def dependency_specs(*, development: bool) -> list[str]:
    """The requirements pyproject.toml declares: the runtime set, plus the development set (tests, linters)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *(project["optional-dependencies"]["dev"] if development else [])]


def _digest(specs: list[str]) -> str:
    return hashlib.sha256("\n".join(specs).encode()).hexdigest()


def ensure_virtualenv(*, development: bool) -> None:
    """Create .venv and install what is needed unless it is already installed: `run` needs the runtime set only;
    `test` adds the development set. A virtualenv with both serves `run` too."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file may be started by an older python3
        sys.exit("Kura needs Python 3.11 or newer.")
    if not PYTHON.exists():
        print("Creating the virtualenv in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    specs = dependency_specs(development=development)
    enough = {_digest(specs)} if development else {_digest(specs), _digest(dependency_specs(development=True))}
    if STAMP.exists() and STAMP.read_text() in enough:
        return
    print("Installing dependencies into .venv ...", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", *specs], check=True)
    STAMP.write_text(_digest(specs))


# Debian programs the tests drive: (program, package, what needs it). `kura.py test` installs the missing ones.
TEST_PROGRAMS = [
    ("chromium", "chromium", "the browser tests"),
    ("nginx", "nginx", "the tests of nginx in front of gunicorn"),
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


def venv_run(*args: str | Path, check: bool = True) -> int:
    """Run a command with the virtualenv's interpreter from the repository root."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([PYTHON, *args], cwd=ROOT, env=env, check=check).returncode


def manage(*args: str, check: bool = True) -> int:
    return venv_run("manage.py", *args, check=check)


def uses_embedded_database() -> bool:
    return not os.environ.get("DATABASE_URL")


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
    was_running = manage("embedded_db", "status", check=False) == 0 if uses_embedded_database() else True
    try:
        for name, args in steps:
            print(f"\n=== {name} ===", flush=True)
            code = venv_run(*args, check=False)
            if code != 0:
                print(f"\n{name} failed (exit {code}).", flush=True)
                return code
        return 0
    finally:
        if not was_running:
            manage("embedded_db", "stop", check=False)


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
    stop = sub.add_parser("stop", help="stop the embedded PostgreSQL server")
    stop.set_defaults(handler=command_stop)
    options = parser.parse_args()
    return int(options.handler(options))


if __name__ == "__main__":
    sys.exit(main())
