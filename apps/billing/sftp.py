"""The SFTP transport to a clearinghouse: an asyncssh client that authenticates with the account's key, trusts
only the host key pinned for the connection, and puts, lists, reads and archives files. It knows nothing of
claims or the database (`clearinghouse.py` does); every failure is an `ExchangeError` whose message names what
went wrong (the host key, the account, a folder) and never a file's content.

Each call opens its own connection and closes it (a batch transport: a few files a day), inside a fresh event
loop, so it can be called from a request, a command or a job's worker thread alike.
"""

from __future__ import annotations

import asyncio
import posixpath
import stat
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from django.core.exceptions import ValidationError

CONNECT_TIMEOUT_SECONDS = 15
SESSION_TIMEOUT_SECONDS = 300.0
MAX_ANSWER_BYTES = 50 * 1024 * 1024
PARTIAL_SUFFIX = ".part"  # written under this name, renamed when complete: the reader never sees half a file

T = TypeVar("T")


def _asyncssh() -> ModuleType:
    # Imported on first use: asyncssh's DSA support warns about a deprecation at import time.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*DSA.*")
        import asyncssh

    return asyncssh


class ExchangeError(Exception):
    """The exchange with the clearinghouse's server failed; the message says why, for the people who fix it."""


@dataclass(frozen=True)
class Account:
    """How to reach one organization's clearinghouse account."""

    host: str
    port: int
    username: str
    private_key: str
    host_key: str
    outbound_folder: str
    inbound_folder: str
    processed_folder: str = ""
    # The whole session (connecting included) gives up after this long.
    timeout_seconds: float = SESSION_TIMEOUT_SECONDS


@dataclass(frozen=True)
class RemoteFile:
    name: str
    content: bytes


def validate_private_key(value: str) -> None:
    """A private key asyncssh can use without a passphrase (the message never repeats the key)."""
    try:
        _asyncssh().import_private_key(value)
    except Exception:  # asyncssh raises KeyImportError, or ValueError/TypeError on garbage
        raise ValidationError(
            "Paste a private key in OpenSSH or PEM format, without a passphrase.", code="invalid_private_key"
        ) from None


def validate_host_key(value: str) -> None:
    """A public host key in OpenSSH format ("ssh-ed25519 AAAA...")."""
    try:
        _asyncssh().import_public_key(value.strip())
    except Exception:
        raise ValidationError(
            'Paste the server\'s public host key in OpenSSH format ("ssh-ed25519 AAAA...").', code="invalid_host_key"
        ) from None


def public_key_of(private_key: str) -> str:
    """The OpenSSH public key of a private key: what the clearinghouse registers for the account."""
    key = _asyncssh().import_private_key(private_key)
    return str(key.export_public_key("openssh").decode("ascii").strip())


def host_key_fingerprint(host_key: str) -> str:
    """The SHA-256 fingerprint of a host key, as `ssh-keygen -l` shows it."""
    return str(_asyncssh().import_public_key(host_key.strip()).get_fingerprint("sha256"))


def _run(account: Account, work: Callable[[Any], Awaitable[T]]) -> T:
    """Connect, open an SFTP session, run `work(sftp)`, close; asyncssh's failures become `ExchangeError`."""
    asyncssh = _asyncssh()

    async def session() -> T:
        async with (
            asyncssh.connect(
                account.host,
                port=account.port,
                username=account.username,
                client_keys=[asyncssh.import_private_key(account.private_key)],
                known_hosts=([asyncssh.import_public_key(account.host_key.strip())], [], []),
                agent_path=None,
                password=None,
                kbdint_auth=False,
                preferred_auth="publickey",
                config=[],
                connect_timeout=min(CONNECT_TIMEOUT_SECONDS, account.timeout_seconds),
            ) as connection,
            connection.start_sftp_client() as sftp,
        ):
            return await work(sftp)

    try:
        return asyncio.run(asyncio.wait_for(session(), account.timeout_seconds))
    except asyncssh.HostKeyNotVerifiable:
        raise ExchangeError(
            "The server's host key is not the one pinned for this connection: nothing was sent or read. "
            "Check the host key with the clearinghouse."
        ) from None
    except asyncssh.PermissionDenied:
        raise ExchangeError(
            "The server refused the account: check the user name and that the clearinghouse has its public key."
        ) from None
    except asyncssh.SFTPNoSuchFile:
        raise ExchangeError("A folder of this connection does not exist on the server.") from None
    except asyncssh.SFTPPermissionDenied:
        raise ExchangeError("The server does not let the account use a folder of this connection.") from None
    except (asyncssh.Error, asyncssh.SFTPError) as error:
        raise ExchangeError(f"The SFTP exchange failed ({type(error).__name__}).") from None
    except TimeoutError:
        raise ExchangeError(
            f"The SFTP exchange took longer than {account.timeout_seconds:g} s and was given up."
        ) from None
    except OSError as error:
        raise ExchangeError(f"The server could not be reached ({type(error).__name__}).") from None


def _join(folder: str, name: str) -> str:
    return posixpath.join(folder or ".", name)


async def _replace(sftp: Any, source: str, target: str) -> None:
    """Rename `source` to `target`, replacing it when it exists (a file sent or archived again)."""
    asyncssh = _asyncssh()
    try:
        await sftp.posix_rename(source, target)
    except asyncssh.SFTPOpUnsupported:
        if await sftp.exists(target):
            await sftp.remove(target)
        await sftp.rename(source, target)


def put_file(account: Account, *, name: str, content: bytes) -> None:
    """Write a file into the outbound folder: under a temporary name, then renamed, so the clearinghouse never
    picks up half of it; a file of the same name (the same batch sent again) is replaced."""
    target = _join(account.outbound_folder, name)

    async def work(sftp: Any) -> None:
        partial = target + PARTIAL_SUFFIX
        async with sftp.open(partial, "wb") as remote:
            await remote.write(content)
        await _replace(sftp, partial, target)

    _run(account, work)


def fetch_answers(account: Account) -> list[RemoteFile]:
    """Every complete regular file of the inbound folder (oldest first, then by name), read whole. Hidden files,
    files still being written and files over the size limit are left where they are."""

    async def work(sftp: Any) -> list[RemoteFile]:
        entries = [
            entry
            for entry in await sftp.readdir(account.inbound_folder or ".")
            if entry.attrs.permissions is not None
            and stat.S_ISREG(entry.attrs.permissions)
            and not entry.filename.startswith(".")
            and not entry.filename.endswith(PARTIAL_SUFFIX)
            and (entry.attrs.size or 0) <= MAX_ANSWER_BYTES
        ]
        entries.sort(key=lambda entry: (entry.attrs.mtime or 0, entry.filename))
        found = []
        for entry in entries:
            async with sftp.open(_join(account.inbound_folder, entry.filename), "rb") as remote:
                found.append(RemoteFile(name=entry.filename, content=await remote.read()))
        return found

    return _run(account, work)


def archive(account: Account, *, names: Sequence[str]) -> None:
    """Move files of the inbound folder into the processed folder, or remove them when there is none."""

    async def work(sftp: Any) -> None:
        for name in names:
            source = _join(account.inbound_folder, name)
            if account.processed_folder:
                await _replace(sftp, source, _join(account.processed_folder, name))
            else:
                await sftp.remove(source)

    _run(account, work)


def check(account: Account) -> None:
    """Connect and list the folders: an `ExchangeError` says what is wrong with the connection."""

    async def work(sftp: Any) -> None:
        for folder in (account.outbound_folder, account.inbound_folder, account.processed_folder):
            if folder:
                await sftp.readdir(folder)

    _run(account, work)
