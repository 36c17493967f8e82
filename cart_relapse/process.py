"""Start `cart-relapse serve` (or any local HTTP server) in a subprocess and wait until it is ready.

Shared by the demo, the benchmarks and the end-to-end tests; loopback only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd


def request_features(row: pd.Series, names: list[str]) -> dict[str, object]:
    """A feature-frame row as the ``features`` of a predict request (missing values left out)."""
    out: dict[str, object] = {}
    for name in names:
        value = row[name]
        if not pd.isna(value):
            out[name] = value.item() if hasattr(value, "item") else value
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def venv_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment with this interpreter's bin folder first on PATH.

    mlflow shells out to uvicorn, which must be this venv's.
    """
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), **(extra or {})}


def wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 120.0) -> None:
    """Poll ``url`` until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before {url} was ready")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


@contextmanager
def api_server(
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 120.0,
    log_path: Path | None = None,
) -> Iterator[str]:
    """Run `cart-relapse serve` on loopback until the block ends; yields its base URL.

    Args:
        port: the port to listen on (a free one by default).
        env: environment variables set for the server on top of this process's.
        args: further ``cart-relapse serve`` arguments.
        timeout: seconds to wait for the server to answer before giving up.
        log_path: append the server's output (its log) to this file instead of discarding it.
    """
    with api_server_process(port=port, env=env, args=args, timeout=timeout, log_path=log_path) as (
        base,
        _process,
    ):
        yield base


@contextmanager
def api_server_process(
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 120.0,
    log_path: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``api_server`` that also yields the process (e.g. to send it SIGHUP, which reloads the models)."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "cart_relapse.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    with open(log_path or os.devnull, "ab") as log:
        process = subprocess.Popen(command, env=venv_env(env), stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{base}/health/ready", process, timeout=timeout)
            yield base, process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
