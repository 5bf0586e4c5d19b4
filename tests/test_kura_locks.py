"""Locked installs: `requirements/runtime.txt` and `requirements/dev.txt` (hashes, made by `python3 kura.py lock`)
pin everything pyproject.toml declares, so a dependency added without relocking fails here and in `kura.py`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = PROJECT["dependencies"]
DEV = PROJECT["optional-dependencies"]["dev"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\;]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, Version]:
    return {canonicalize_name(name): Version(version) for name, version in PIN.findall((ROOT / lock).read_text())}


@pytest.mark.parametrize(
    ("lock", "declared"), [("requirements/runtime.txt", RUNTIME), ("requirements/dev.txt", RUNTIME + DEV)]
)
def test_each_lock_pins_every_declared_dependency_within_its_range(lock, declared):
    pinned = pins(lock)
    requirements = [Requirement(spec) for spec in declared]
    assert sorted(r.name for r in requirements if canonicalize_name(r.name) not in pinned) == []
    outside = [
        str(r) for r in requirements if not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ]
    assert outside == []


def test_the_runtime_lock_has_no_test_tools_and_the_same_versions_as_the_development_lock():
    runtime, dev = pins("requirements/runtime.txt"), pins("requirements/dev.txt")
    assert {"pytest", "pytest-django", "ruff", "mypy", "playwright", "schemathesis"} & runtime.keys() == set()
    assert {name: version for name, version in dev.items() if name in runtime} == runtime


@pytest.mark.parametrize("lock", ["requirements/runtime.txt", "requirements/dev.txt"])
def test_every_pin_carries_hashes(lock):
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text().split("\n", 2)[2])
    unhashed = [block.split(" ")[0] for block in blocks if "==" in block and "--hash=sha256:" not in block]
    assert unhashed == []
    assert len(blocks) == len(pins(lock))


def test_kura_py_refuses_to_install_when_pyproject_declares_an_unlocked_dependency(tmp_path):
    for name in ("kura.py", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = [\n", 'dependencies = [\n    "Left_Pad>=1",\n', 1)
    )

    result = subprocess.run(
        [sys.executable, "kura.py", "run"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )

    assert result.returncode == 1
    assert result.stderr == (
        "pyproject.toml declares left-pad, which requirements/runtime.txt does not pin: run `python3 kura.py lock`.\n"
    )
    assert not (tmp_path / ".venv").exists()
