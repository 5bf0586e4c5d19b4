"""What stands between clients and gunicorn in the tests: Debian's nginx with Kura's configuration
(`deploy/nginx/kura.conf`), and raw HTTP over a socket for requests no client library sends (chunked bodies,
trickled headers).

`nginx_in_front` runs nginx in the foreground with its own prefix, pid, log and temporary folders in a test's
temporary folder, listening on a free loopback port, in front of a gunicorn started by `tests.live`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.live import ROOT, _free_port

NGINX_CONFIG = ROOT / "deploy" / "nginx" / "kura.conf"
STARTUP_SECONDS = 20


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def nginx_binary() -> str:
    """Debian's nginx (`kura.py test` installs it with apt-get when missing)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert found is not None, "nginx is not installed: apt-get install nginx (kura.py test does it as root)"
    return found


def render_nginx_config(*, listen: str, upstream: str, static_root: Path, log_dir: Path) -> str:
    """`deploy/nginx/kura.conf` with its four values filled in."""
    text = NGINX_CONFIG.read_text()
    for placeholder, value in {
        "@LISTEN@": listen,
        "@UPSTREAM@": upstream,
        "@STATIC_ROOT@": str(static_root),
        "@LOG_DIR@": str(log_dir),
    }.items():
        text = text.replace(placeholder, value)
    assert re.search(r"@[A-Z_]+@", text) is None, "a placeholder was left unfilled"
    return text


def _main_config(directory: Path, *, worker_connections: int) -> str:
    temp = {name: directory / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir(exist_ok=True)
    # As root nginx's workers would switch to `nobody`, who cannot enter the test's private temporary folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
worker_rlimit_nofile {worker_connections * 2 + 64};
events {{ worker_connections {worker_connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {directory}/kura.conf;
}}
"""


@contextmanager
def nginx_in_front(upstream_url: str, directory: Path, *, worker_connections: int = 4096) -> Iterator[str]:
    """nginx with Kura's configuration in front of `upstream_url` (a gunicorn); yields nginx's URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    (directory / "kura.conf").write_text(
        render_nginx_config(
            listen=f"127.0.0.1:{port}",
            upstream=upstream_url.removeprefix("http://"),
            static_root=ROOT / "static",
            log_dir=directory,
        )
    )
    (directory / "nginx.conf").write_text(_main_config(directory, worker_connections=worker_connections))
    command = [nginx_binary(), "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr"]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    log = directory / "nginx.stderr"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_proxying(url, process, log)
        yield url
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_proxying(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5):  # noqa: S310 - our own local server
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer within {STARTUP_SECONDS}s:\n{log.read_text()}")


def host_and_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def raw_request(url: str, head: str, body: bytes = b"", *, timeout: float = 30) -> Answer:
    """Send `head` (request line and headers, without the blank line) and `body` as they are; read the answer
    until the server closes the connection (every request sent here says `Connection: close`)."""
    with socket.create_connection(host_and_port(url), timeout=timeout) as connection:
        connection.sendall(head.encode("latin-1") + b"\r\nConnection: close\r\n\r\n" + body)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # the server answered without reading the whole body, then closed
    return parse_answer(answer)


def parse_answer(answer: bytes) -> Answer:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Answer(status=int(status_line.split(" ", 2)[1]), headers=headers, body=body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def chunked(body: bytes) -> bytes:
    """`body` as one chunk and the last chunk, as a client streaming it would send it."""
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
