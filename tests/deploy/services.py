"""Throwaway PostgreSQL and nginx instances for the deployment tests (Debian's packages).

Each runs as its own instance: a fresh temporary directory, a free port, its socket, pid file
and logs inside that directory, in the foreground (no daemon, no system service touched).
PostgreSQL refuses to run as root; as root the directory is given to ``nobody`` and the server
runs as that user (as non-root it runs as the current user). The nginx configuration written
here is the one docs/deploy.md's "Scaling out" section shows.
"""

from __future__ import annotations

import contextlib
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

from tests.conftest import free_port

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
NGINX = Path("/usr/sbin/nginx")
START_TIMEOUT_S = 60
DATABASE = "icegrt"


def _require(path: Path, package: str) -> None:
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install the Debian package {package} (scripts/system_packages.sh does)")


def _service_user() -> dict:
    """Popen keyword arguments that drop root to ``nobody`` (nothing as non-root)."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _own_dir(prefix: str) -> Path:
    """A temporary directory that the service user owns (/tmp, so ``nobody`` can reach it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return path


def _stop(process: subprocess.Popen, sig: int, timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Postgres:
    url: str
    """SQLAlchemy URL of the instance's ``icegrt`` database."""
    directory: Path
    process: subprocess.Popen


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server on 127.0.0.1:<free port> with an empty ``icegrt`` database."""
    import psycopg

    _require(POSTGRES_BIN / "postgres", "postgresql")
    directory, port = _own_dir("icegrt-pg-"), free_port()
    user, data = _service_user(), directory / "data"
    init = subprocess.run([str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "icegrt", "--auth=trust",
                           "--no-locale", "-E", "UTF8", "--no-sync"], capture_output=True, text=True, **user)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    log = (directory / "postgres.log").open("w")
    process = subprocess.Popen(
        [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory),
         "-c", "listen_addresses=127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, **user)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"postgres exited with {process.returncode}:\n{(directory / 'postgres.log').read_text()}")
            try:
                with psycopg.connect(host="127.0.0.1", port=port, user="icegrt", dbname="postgres",
                                     autocommit=True, connect_timeout=2) as connection:
                    connection.execute(f"CREATE DATABASE {DATABASE}")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield Postgres(f"postgresql://icegrt@127.0.0.1:{port}/{DATABASE}", directory, process)
    finally:
        _stop(process, signal.SIGINT)  # "fast" shutdown: roll back open transactions, then exit
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def nginx_config(directory: Path, port: int, upstreams: Sequence[str]) -> str:
    """nginx round-robin over `upstreams` (``host:port``), everything it writes kept in `directory`."""
    servers = "\n".join(f"        server {address};" for address in upstreams)
    temp_paths = "\n".join(f"    {kind}_temp_path {directory}/{kind};"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {directory}/access.log upstream;
{temp_paths}
    upstream icegrt {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 4m;
        location / {{
            proxy_pass http://icegrt;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    base_url: str
    directory: Path
    process: subprocess.Popen

    def upstreams_used(self) -> list[str]:
        """The upstream address of each proxied request so far, in order (from the access log)."""
        text = (self.directory / "access.log").read_text()
        return [line.rsplit("upstream=", 1)[1] for line in text.splitlines() if "upstream=" in line]


@contextlib.contextmanager
def nginx(upstreams: Sequence[str]) -> Iterator[Nginx]:
    """nginx on 127.0.0.1:<free port>, balancing round-robin over `upstreams`."""
    import httpx

    _require(NGINX, "nginx")
    directory, port = _own_dir("icegrt-nginx-"), free_port()
    config = directory / "nginx.conf"
    config.write_text(nginx_config(directory, port, upstreams))
    log = (directory / "nginx.out").open("w")
    # As root, nginx's workers run as nobody (its default user), who owns the directory.
    process = subprocess.Popen([str(NGINX), "-p", str(directory), "-c", str(config), "-e", str(directory / "error.log")],
                               stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited with {process.returncode}:\n{(directory / 'error.log').read_text()}")
            try:
                httpx.get(f"{base_url}/health", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Nginx(base_url, directory, process)
    finally:
        _stop(process, signal.SIGQUIT)  # graceful: finish open requests, then exit
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
