"""A throwaway nginx in front of app nodes, with the production proxy settings.

It includes deploy/nginx/nhatky-proxy.conf and nhatky-log.conf verbatim (what docs/DEPLOY.md
installs), on a free port of 127.0.0.1, without TLS; its files live in a temporary folder.
Debian's `nginx` (`.ci/run` installs it when missing); as root its workers run as www-data.

    with nginx_proxy([("127.0.0.1", 8001), ("127.0.0.1", 8002)]) as proxy:
        proxy.url, proxy.access_log()
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pg_server import _free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "nginx"
NGINX = "/usr/sbin/nginx"


class NginxUnavailable(RuntimeError):
    pass


@dataclass
class NginxProxy:
    host: str
    port: int
    home: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def access_log(self) -> list[dict[str, Any]]:
        path = self.home / "access.json"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _config(home: Path, port: int, upstreams: Sequence[tuple[str, int]], user: str) -> str:
    servers = "\n".join(
        f"        server {host}:{upstream} max_fails=1 fail_timeout=10s;"
        for host, upstream in upstreams
    )
    temp = {name: home / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    return f"""
user {user};
daemon off;
worker_processes 1;
pid {home / "nginx.pid"};
error_log {home / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {DEPLOY / "nhatky-log.conf"};
    upstream nhatky_app {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        access_log {home / "access.json"} nhatky_json;
        include {DEPLOY / "nhatky-proxy.conf"};
    }}
}}
"""


@contextlib.contextmanager
def nginx_proxy(upstreams: Sequence[tuple[str, int]]) -> Iterator[NginxProxy]:
    if not Path(NGINX).exists():
        raise NginxUnavailable(f"{NGINX} not found (apt-get install nginx)")
    home = Path(tempfile.mkdtemp(prefix="nhatky-nginx-", dir="/tmp"))
    user = "www-data" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (home / name).mkdir()
        if os.geteuid() == 0:
            shutil.chown(home / name, user=user)
    port = _free_port()
    conf = home / "nginx.conf"
    conf.write_text(_config(home, port, upstreams, user))
    check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode:
        shutil.rmtree(home, ignore_errors=True)
        raise NginxUnavailable(f"nginx -t failed: {check.stderr}")
    process = subprocess.Popen(
        [NGINX, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, process)
        yield NginxProxy("127.0.0.1", port, home)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            raise NginxUnavailable(f"nginx exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise NginxUnavailable("nginx did not listen within 10 s") from None
            time.sleep(0.05)
