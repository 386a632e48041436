"""A throw-away PostgreSQL server for tests: initdb into a temporary folder, `postgres` on a
free loopback port, stopped by PID at the end of the session.

initdb and postgres refuse to run as root, so under root both run as an unprivileged user
(postgres, else nobody) through setpriv, in a folder that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest

from relayops.stack.daemons import Running, on_free_port, start, stop

PG_ROOT = Path("/usr/lib/postgresql")  # Debian: <version>/bin, kept off PATH
INSTALL_HINT = "PostgreSQL server binaries not found: apt-get install postgresql"
_USER = "relayops"


def _binary(name: str) -> str | None:
    """The newest Debian PostgreSQL's `name`, else `name` on PATH."""
    versions = sorted(PG_ROOT.glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]), reverse=True)
    return str(versions[0]) if versions else shutil.which(name)


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The setpriv prefix and account to drop to when running as root; nothing otherwise."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}"]
        return [*prefix, "--clear-groups", "--"], account
    raise RuntimeError("running as root and neither a postgres nor a nobody account exists")


def _ready(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def _start(initdb: str, postgres: str, root: Path) -> tuple[Running, str]:
    prefix, account = _run_as()
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if account is not None:
        for path in (root, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", _USER, "--auth=trust", "-E", "UTF8", "-N"],
        check=True,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    return on_free_port(partial(_launch, [*prefix, postgres, "-D", str(data)], root))


def _launch(command: list[str], root: Path, port: int) -> tuple[Running, str]:
    url = f"postgresql://{_USER}@127.0.0.1:{port}/postgres"
    argv = [*command, "-h", "127.0.0.1", "-p", str(port), "-k", str(root / "sockets"), "-F"]
    return start("postgres", argv, root / "postgres.log", partial(_ready, url)), url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A postgresql:// URL of a fresh server (trust auth on loopback) for this session."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        pytest.skip(INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="relayops-pg-"))
    try:
        running, url = _start(initdb, postgres, root)
        try:
            yield url
        finally:
            stop(running)
    finally:
        shutil.rmtree(root, ignore_errors=True)
