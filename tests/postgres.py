"""A throwaway PostgreSQL server for integration tests.

``initdb`` and ``pg_ctl`` from the machine's PostgreSQL (``/usr/lib/postgresql/<version>/bin``, or
``$CART_RELAPSE_PG_BIN``) run in a fresh temporary folder that also holds the unix socket; the server
listens on a free loopback port with trust authentication, and is stopped and deleted when the block
ends, also on failure. PostgreSQL refuses to run as root: as root, every server command runs as the
unprivileged ``nobody`` (``runuser``), and the folder belongs to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cart_relapse.process import free_port

PG_BIN_ENV = "CART_RELAPSE_PG_BIN"
PG_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "nobody"
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def pg_bindir() -> Path:
    """The folder with ``initdb``, ``pg_ctl`` and ``createdb`` (the newest installed version).

    Raises:
        RuntimeError: no PostgreSQL server binaries are installed.
    """
    explicit = os.environ.get(PG_BIN_ENV)
    candidates = (
        [Path(explicit)]
        if explicit
        else sorted(PG_ROOT.glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    )
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "createdb")):
            return bindir
    raise RuntimeError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found under {PG_ROOT}/*/bin: "
        f"install the postgresql server package or set {PG_BIN_ENV}"
    )


@contextmanager
def postgres_server(*, database: str = "mlflow") -> Iterator[str]:
    """Run a PostgreSQL server for the block; yields its SQLAlchemy URI (``postgresql+psycopg://...``)."""
    bindir = pg_bindir()
    root = Path(tempfile.mkdtemp(prefix="cart-relapse-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    prefix = _run_as_unprivileged(root, sockets)
    port = free_port()
    started = False
    try:
        _run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            log,
        )
        options = f"-h 127.0.0.1 -p {port} -k {sockets} {_FAST}"
        _run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            log,
        )
        started = True
        _run(
            [
                *prefix,
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                database,
            ],
            log,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
    finally:
        if started:
            stop = subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"],
                capture_output=True,
                text=True,
            )
            if stop.returncode != 0:
                subprocess.run(
                    [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                    capture_output=True,
                )
        shutil.rmtree(root, ignore_errors=True)


def _run_as_unprivileged(*folders: Path) -> list[str]:
    """``[]`` for a normal user; as root, ``runuser -u nobody --`` after giving ``folders`` to nobody."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam(SERVER_USER)
    for folder in folders:
        os.chown(folder, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", SERVER_USER, "--"]


def _run(command: Sequence[str], log: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, cwd="/", timeout=120)
    if result.returncode != 0:
        server_log = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n"
            f"{result.stderr[-2000:]}\n{server_log}"
        )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())
