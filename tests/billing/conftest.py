"""Fixtures of the billing tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.billing.sftp_server import LoopbackSFTPServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LoopbackSFTPServer]:
    """A clearinghouse's SFTP server on loopback, its accounts under `tmp_path`."""
    running = LoopbackSFTPServer(tmp_path)
    yield running
    running.close()
