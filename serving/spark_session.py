"""A local Spark session for batch scoring, on an explicitly chosen Java 17 (or 21).

pyspark 4 runs on Java 17 or 21 only, and a machine may have several JDKs: the session is started
with ``JAVA_HOME`` set to ``$CART_RELAPSE_JAVA_HOME``, else ``$JAVA_HOME`` when it is a supported
JDK, else the first supported JDK under ``/usr/lib/jvm`` (17 before 21). ``JAVA_HOME`` is set only
while the JVM starts and restored afterwards. Everything binds to loopback; no web UI.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SUPPORTED_JAVA = (17, 21)
JVM_ROOT = Path("/usr/lib/jvm")
LOCAL_MASTER = "local[2]"
_VERSION = re.compile(r'^JAVA_VERSION="(?P<major>\d+)', re.MULTILINE)


class SparkSetupError(RuntimeError):
    """pyspark or a supported Java is missing (the message says how to fix it)."""


def local_spark_session(*, master: str = LOCAL_MASTER, app_name: str = "cart-relapse-score") -> SparkSession:
    """Start (or return the running) Spark session with ``master`` (default ``local[2]``).

    Args:
        master: Spark master URL; executors of a non-local master need this package's environment.
        app_name: the application name shown by Spark.

    Returns:
        A ``pyspark.sql.SparkSession``.

    Raises:
        SparkSetupError: pyspark is not installed or no supported Java is found.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkSetupError(
            "pyspark is not installed: install the optional extra, pip install 'cart-relapse[spark]'"
        ) from exc
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in _local_conf(master).items():
        builder = builder.config(key, value)
    local = master.startswith("local")
    with _environment(
        JAVA_HOME=str(java_home()),
        SPARK_LOCAL_IP="127.0.0.1" if local else None,
        PYSPARK_PYTHON=sys.executable if local else None,
    ):  # workers run this interpreter
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def java_home() -> Path:
    """The JDK to start Spark with (see the module docstring).

    Raises:
        SparkSetupError: no Java 17 or 21 is found.
    """
    explicit = os.environ.get("CART_RELAPSE_JAVA_HOME")
    if explicit:
        if java_major(Path(explicit)) not in SUPPORTED_JAVA:
            raise SparkSetupError(
                f"CART_RELAPSE_JAVA_HOME={explicit} is not a Java {' or '.join(map(str, SUPPORTED_JAVA))} JDK"
            )
        return Path(explicit)
    current = os.environ.get("JAVA_HOME")
    if current and java_major(Path(current)) in SUPPORTED_JAVA:
        return Path(current)
    found = {home: java_major(home) for home in sorted(JVM_ROOT.glob("*"))} if JVM_ROOT.is_dir() else {}
    for wanted in SUPPORTED_JAVA:
        for home, major in found.items():
            if major == wanted:
                return home
    raise SparkSetupError(
        f"Spark needs Java {' or '.join(map(str, SUPPORTED_JAVA))}; none found under {JVM_ROOT} "
        "and JAVA_HOME is not one: set CART_RELAPSE_JAVA_HOME to a Java 17 JDK"
    )


def java_major(home: Path) -> int | None:
    """The major version in a JDK's ``release`` file (None if it is not a JDK)."""
    try:
        match = _VERSION.search((home / "release").read_text())
    except OSError:
        return None
    return int(match["major"]) if match else None


def _local_conf(master: str) -> dict[str, str]:
    conf = {
        "spark.ui.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.shuffle.partitions": "2",
        # feature frames written by pandas hold nanosecond dates, which Spark reads only as longs
        "spark.sql.legacy.parquet.nanosAsLong": "true",
    }
    if master.startswith("local"):
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    return conf


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set the non-None ``values`` in ``os.environ`` for the block, then restore what was there."""
    saved = {key: os.environ.get(key) for key, value in values.items() if value is not None}
    os.environ.update({key: value for key, value in values.items() if value is not None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
