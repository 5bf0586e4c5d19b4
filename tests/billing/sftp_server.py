"""A real SFTP server for the tests: asyncssh's server listening on loopback in a thread of its own, a fresh host
key, one account per user name (public-key login only), each account's SFTP session chrooted to its own folder
under a temporary directory, as a clearinghouse's server keeps its customers apart."""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*DSA.*")
    import asyncssh

FOLDERS = ("inbound", "outbound", "processed")


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def public_key_text(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode("ascii").strip()


@dataclass(frozen=True)
class Account:
    username: str
    private_key: str
    root: Path

    def folder(self, name: str) -> Path:
        return self.root / name

    def files(self, folder: str) -> dict[str, bytes]:
        """The files of one of the account's folders: name -> content."""
        return {path.name: path.read_bytes() for path in sorted(self.folder(folder).iterdir()) if path.is_file()}


class _Server(asyncssh.SSHServer):  # type: ignore[misc]
    def __init__(self, authorized: dict[str, str]) -> None:
        self._authorized = authorized

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self._authorized.get(username) == public_key_text(key)


class LoopbackSFTPServer:
    """Started on construction, stopped by `close()`; `host_key` is its public host key, to pin."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._host_key = new_key()
        self.host_key = public_key_text(self._host_key)
        self._authorized: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._listener = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        self.port: int = self._listener.get_port()

    async def _listen(self) -> Any:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self._host_key],
            server_factory=lambda: _Server(self._authorized),
            sftp_factory=self._sftp_session,
            allow_scp=False,
        )

    def _sftp_session(self, channel: Any) -> asyncssh.SFTPServer:
        username = channel.get_extra_info("username")
        return asyncssh.SFTPServer(channel, chroot=os.fsencode(self.root / username))

    def add_account(self, username: str) -> Account:
        """An account with its own key and folders (inbound, outbound, processed)."""
        key = new_key()
        self._authorized[username] = public_key_text(key)
        root = self.root / username
        for folder in FOLDERS:
            (root / folder).mkdir(parents=True)
        return Account(username=username, private_key=key.export_private_key("openssh").decode("ascii"), root=root)

    def close(self) -> None:
        async def stop() -> None:
            self._listener.close()
            await self._listener.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
