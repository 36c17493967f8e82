"""The store file: schema creation, read helpers, locking and bad files."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from features.errors import RegistryError
from features.ingest import ingest_directory
from features.store import MEMORY_LIMIT_ENV, TABLES, open_store, read_outcomes, read_patients, read_quarantine

from .conftest import make_registry, obs, outcome, patient


def test_open_store_creates_the_schema_once(store) -> None:
    with open_store(store) as con:
        con.execute("INSERT INTO store_meta VALUES ('marker', 'kept')")
    with open_store(store) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert set(TABLES) <= tables
        assert con.execute("SELECT value FROM store_meta WHERE key = 'marker'").fetchone() == ("kept",)


def test_read_only_store_must_exist(store) -> None:
    with pytest.raises(RegistryError, match="no feature store"):
        open_store(store, read_only=True)


def test_a_file_that_is_not_a_store_is_refused(tmp_path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database" * 100)
    with pytest.raises(RegistryError, match="not a DuckDB feature store"):
        open_store(junk)


def test_a_foreign_duckdb_file_is_refused_read_only(tmp_path) -> None:
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(RegistryError, match="not a cart-relapse feature store"):
        open_store(other, read_only=True)


def test_a_store_locked_by_another_process_gives_a_clear_error(store) -> None:
    open_store(store).close()
    holder = textwrap.dedent(f"""
        import sys, duckdb
        con = duckdb.connect({str(store)!r})
        print("locked", flush=True)
        sys.stdin.readline()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        for read_only in (False, True):
            with pytest.raises(RegistryError) as caught:
                open_store(store, read_only=read_only)
            message = str(caught.value)
            assert "is locked by another process" in message and f"PID {proc.pid}" in message
            assert "IO Error" not in message
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_the_memory_limit_comes_from_the_environment_for_writers_and_readers(store, monkeypatch) -> None:
    with open_store(store) as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1.5GiB")
    for read_only in (False, True):
        with open_store(store, read_only=read_only) as con:
            assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "1.5 GiB" != default


def test_a_memory_limit_that_is_not_a_size_is_refused_naming_the_variable(store, monkeypatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(RegistryError, match="CART_RELAPSE_STORE_MEMORY_LIMIT='lots' is not a size"):
        open_store(store)
    assert not store.exists() or store.stat().st_size == 0


def test_read_helpers_return_pandas_datetimes(raw, store) -> None:
    make_registry(
        raw,
        patients=[patient("P1"), patient("P2", infusion_date="")],
        outcomes=[outcome("P1", progression=100)],
        clinical=[obs("P1", "ldh", "300", "U/L"), obs("P1", "ldh", "-3", "U/L", collected=-20)],
    )
    ingest_directory(raw, store=store)
    patients = read_patients(store)
    assert list(patients.columns) == [
        "patient_id",
        "center",
        "sex",
        "age",
        "product",
        "apheresis_date",
        "infusion_date",
    ]
    assert patients.infusion_date.isna().tolist() == [False, True]
    outcomes = read_outcomes(store)
    assert list(outcomes.columns) == [
        "patient_id",
        "center",
        "product",
        "apheresis_date",
        "infusion_date",
        "progression_date",
        "death_date",
        "last_followup_date",
    ]
    for column in ("apheresis_date", "infusion_date", "progression_date", "death_date", "last_followup_date"):
        assert str(outcomes[column].dtype) == "datetime64[ns]", column
    assert (outcomes.progression_date - outcomes.infusion_date).dt.days.tolist() == [100]
    quarantine = read_quarantine(store)
    assert quarantine[["source_line", "reason"]].values.tolist() == [[3, "out of range"]]


def test_read_helpers_accept_an_open_connection(raw, store) -> None:
    make_registry(raw)
    ingest_directory(raw, store=store)
    with open_store(store, read_only=True) as con:
        assert read_patients(con).patient_id.tolist() == ["P1", "P2", "P3"]
        assert read_outcomes(con).empty
