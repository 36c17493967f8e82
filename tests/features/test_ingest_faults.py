"""Store hardening: malformed files, a killed ingest and two ingests at once never damage the store.

* Property tests feed generated malformed files (bad encodings, BOMs, NUL bytes, missing, extra or
  repeated columns, wrong types, huge numbers, random text and dates, empty and header-only files)
  to ``ingest_directory``: it either succeeds with read = accepted + quarantined for every file
  and a store that holds exactly what the report says, or raises a ``RegistryError`` naming the
  file and leaves every table of the store as it was. Clean CSV with a usable header never fails.
* A process killed with SIGKILL inside an ingest leaves the store as it was before that ingest
  (or, killed during the commit, exactly as after it), and the next ingest succeeds.
* Two ingests started on one store: the second fails cleanly with the "locked by another process"
  message, the store holds exactly the first one's data, and re-running the second adds the rest.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from features.errors import FileFormatError, RegistryError
from features.ingest import ingest_directory
from features.readers import COLUMNS, OBSERVATION_TABLES
from features.report import IngestReport
from features.store import TABLES
from synth import generate_registry, write_registry

from .conftest import make_registry, obs, outcome, patient, snapshot

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
APPEND_ONLY = (
    "patients_history",
    "outcomes_history",
    "observations",
    "quarantine",
    "ingests",
    "ingest_files",
)
"""Tables whose rows an ingest never changes or removes (``patients``/``outcomes`` hold current rows)."""
CLI = Path(sys.executable).with_name("cart-relapse")

# ------------------------------------------------------------------------------------ cell values

DATE_TEXT = st.one_of(
    st.dates().map(date.isoformat),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="seconds")),
    st.sampled_from(
        [
            "2024-13-45",
            "2024-02-30",
            "05/03/2024",
            "2024-03-05T08:30+02:00",
            "2024-03-05Z",
            "99999-01-01",
            "0000-01-01",
            "2024-3-5",
            "-2024-01-01",
            "infinity",
            "epoch",
            "2024-03-05T25:00",
            "20240305",
            "2024-03-05 08:30:00.1234567891",
            " 2024-03-05 ",
            "2024-03-05\n",
        ]
    ),
)
FUZZ = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "NA",
            "nan",
            "NaN",
            "inf",
            "-Infinity",
            "1e308",
            "-1e308",
            "1e309",
            "1e-320",
            "4.9e-324",
            "9" * 40,
            "-" + "9" * 40,
            "1" + "0" * 40 + ".5",
            "0x1F",
            "1_000",
            "1,5",
            "  300 ",
            "+5",
            ".",
            "-",
            "true",
            "FALSE",
            '"',
            "'",
            ",",
            "\n",
            "\r\n",
            "\r",
            "\x00",
            "é",
            "\ufeff",
            "\U0001f4a5",
            "NULL",
        ]
    ),
    st.text(max_size=20),
    DATE_TEXT,
    st.floats().map(repr),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
"""Any text at all, biased towards what breaks parsers and numeric or date conversions."""

PLAUSIBLE = {
    "patient_id": st.sampled_from(["P1", "P2", "P3", "P9", " P1 "]),
    "biomarker": st.sampled_from(
        [
            "ldh",
            "crp",
            "ecog",
            "albumin",
            "double_hit",
            "bridging_response",
            "tmtv",
            "ctdna",
            "car_peak",
            "stage",
        ]
    ),
    "value": st.one_of(
        st.floats(-1e6, 1e6).map(lambda x: f"{x:g}"),
        st.integers(0, 5).map(str),
        st.sampled_from(["CR", "PR", "true", "0"]),
    ),
    "unit": st.sampled_from(["U/L", "ukat/L", "mg/L", "mg/dL", "", "g/dL", "mL", "L", "hGE/mL", "cells/uL"]),
    "collected_at": st.dates(date(2023, 1, 1), date(2025, 12, 31)).map(date.isoformat),
    "reported_at": st.one_of(st.just(""), st.dates(date(2023, 1, 1), date(2025, 12, 31)).map(date.isoformat)),
    "reference_high": st.one_of(st.just(""), st.floats(0, 1e4).map(lambda x: f"{x:g}")),
    "center": st.sampled_from(["C1", "C2", ""]),
    "sex": st.sampled_from(["F", "M", ""]),
    "age": st.one_of(st.integers(10, 110).map(str), st.just("")),
    "product": st.sampled_from(["axi-cel", "tisa-cel", "liso-cel"]),
    "apheresis_date": st.dates(date(2023, 1, 1), date(2024, 6, 30)).map(date.isoformat),
    "infusion_date": st.one_of(
        st.just(""), st.dates(date(2023, 1, 1), date(2024, 12, 31)).map(date.isoformat)
    ),
    "progression_date": st.one_of(
        st.just(""), st.dates(date(2023, 1, 1), date(2025, 12, 31)).map(date.isoformat)
    ),
    "death_date": st.one_of(st.just(""), st.dates(date(2023, 1, 1), date(2025, 12, 31)).map(date.isoformat)),
    "last_followup_date": st.dates(date(2023, 1, 1), date(2025, 12, 31)).map(date.isoformat),
}
BROKEN_BYTES = ("latin1", "nul", "truncate", "utf16", "garbage")
"""Byte-level damage; the other encodings (utf8, bom, crlf) keep the file well-formed."""


# ------------------------------------------------------------------------------------ generated files


@st.composite
def headers(draw: st.DrawFn, table: str) -> list[str]:
    """The table's columns, some dropped, some extra (odd names included), in any order."""
    required, optional = COLUMNS[table]
    kept = [c for c in (*required, *optional) if draw(st.integers(0, 24)) > 0]  # drop each with p = 0.04
    odd = st.sampled_from(["", "rowid", "__p_x", "value", "a,b", 'q"t', "é", "x\ny"])
    extra = draw(st.lists(st.one_of(st.just("notes"), st.text(min_size=1, max_size=6), odd), max_size=2))
    return draw(st.permutations(kept + extra))


@st.composite
def csv_files(draw: st.DrawFn, table: str) -> tuple[bytes, int, bool]:
    """A CSV file for ``table``: (content, data rows written, well-formed with a usable header)."""
    shape = draw(st.sampled_from(["rows"] * 6 + ["empty", "header_only", "blank"]))
    if shape == "empty":
        return b"", 0, False
    if shape == "blank":
        return draw(st.sampled_from([b"\n", b"   \n\n", b"\r\n"])), 0, False
    header = draw(headers(table))
    rows = [] if shape == "header_only" else draw(st.lists(_row(header), max_size=8))
    encoding = draw(st.sampled_from(["utf8"] * 4 + ["bom", "crlf", *BROKEN_BYTES]))
    content = _encode(draw, _csv_text(header, rows, "\r\n" if encoding == "crlf" else "\n"), encoding)
    return content, len(rows), encoding not in BROKEN_BYTES and _usable(table, header)


def _row(header: list[str]) -> st.SearchStrategy[list[str]]:
    return st.tuples(*(st.one_of(PLAUSIBLE.get(c, FUZZ), PLAUSIBLE.get(c, FUZZ), FUZZ) for c in header)).map(
        list
    )


def _csv_text(header: list[str], rows: list[list[str]], newline: str) -> str:
    """RFC 4180 text: a cell with a comma, quote, CR or LF is quoted (the csv module leaves a bare
    CR unquoted when the line terminator is LF, which splits the row)."""

    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text

    return "".join(",".join(map(cell, line)) + newline for line in [header, *rows])


def _encode(draw: st.DrawFn, text: str, encoding: str) -> bytes:
    data = text.encode("utf-8")
    at = draw(st.integers(0, len(data)))
    match encoding:
        case "bom":
            return b"\xef\xbb\xbf" + data
        case "latin1":
            return (
                text.encode("latin-1", errors="replace")[:at]
                + b"caf\xe9"
                + text.encode("latin-1", "replace")[at:]
            )
        case "nul":
            return data[:at] + b"\x00" + data[at:]
        case "truncate":
            return data[:at]
        case "utf16":
            return text.encode("utf-16")
        case "garbage":
            return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    return data


def _usable(table: str, header: list[str]) -> bool:
    """The header passes the file checks: no empty, reserved or repeated names, none with a line break or
    NUL, the required ones present."""
    names = [h.strip() for h in header]
    required, _ = COLUMNS[table]
    return (
        all(names)
        and len(set(names)) == len(names)
        and set(required) <= set(names)
        and not any(n.lower() == "rowid" or n.startswith("__p_") for n in names)
        and not any(c in h for h in header for c in "\r\n\x00")
    )


@st.composite
def parquet_tables(draw: st.DrawFn) -> tuple[pa.Table, bool]:
    """An observation Parquet table with columns of random types: (table, every column readable as text)."""
    required, optional = COLUMNS["clinical"]
    names = [*required, *[c for c in optional if draw(st.booleans())]]
    n = draw(st.integers(0, 6))
    columns, textual = {}, True
    for name in names:
        kind = draw(
            st.sampled_from(["text", "text", "int", "float", "timestamp", "bool", "null", "binary", "list"])
        )
        textual &= kind != "binary"
        columns[name] = _parquet_column(draw, kind, name, n)
    return pa.table(columns), textual


def _parquet_column(draw: st.DrawFn, kind: str, name: str, n: int) -> pa.Array:
    values = {
        "text": st.one_of(st.none(), PLAUSIBLE.get(name, FUZZ), FUZZ),
        "int": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        "float": st.one_of(st.none(), st.floats()),
        "timestamp": st.one_of(st.none(), st.datetimes()),
        "bool": st.one_of(st.none(), st.booleans()),
        "null": st.none(),
        "binary": st.one_of(st.none(), st.binary(max_size=8)),
        "list": st.one_of(st.none(), st.lists(st.integers(-5, 5), max_size=3)),
    }[kind]
    types = {
        "text": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "timestamp": pa.timestamp("us"),
        "bool": pa.bool_(),
        "null": pa.null(),
        "binary": pa.binary(),
        "list": pa.list_(pa.int64()),
    }
    return pa.array(draw(st.lists(values, min_size=n, max_size=n)), type=types[kind])


# ------------------------------------------------------------------------------------ the checks


@pytest.fixture(scope="module")
def base_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one earlier ingest (patients P1-P3, an outcome, observations, a quarantined row)."""
    root = tmp_path_factory.mktemp("base")
    make_registry(
        root / "raw",
        outcomes=[outcome("P1")],
        clinical=[
            obs("P1", "ldh", "300", "U/L"),
            obs("P2", "crp", "12", "mg/L", reported=-4),
            obs("P3", "ldh", "base-only", "U/L"),
        ],
    )
    ingest_directory(root / "raw", store=root / "store.duckdb")
    return root / "store.duckdb"


def ingest_checked(directory: Path, fuzzed: Path, store: Path, *, well_formed: bool) -> IngestReport | None:
    """Ingest ``directory`` into ``store`` and check the outcome (see the module docstring).

    Returns:
        The report, or None when the ingest raised (a RegistryError naming ``fuzzed``).
    """
    note(f"{fuzzed.name}: {fuzzed.read_bytes()[:2000]!r}")
    before = snapshot(store)
    refused: RegistryError | None = None
    try:
        report = ingest_directory(directory, store=store)
    except RegistryError as exc:
        refused = exc
    if refused is not None:
        event(f"refused: {getattr(refused, 'reason', 'registry error').split(' (')[0][:40]}")
        assert not well_formed, f"well-formed file refused: {refused}"
        assert str(fuzzed) in str(refused), f"error does not name the file: {refused}"
        if isinstance(refused, FileFormatError):
            assert refused.path == str(fuzzed)
        assert snapshot(store) == before
        return None
    event(f"ingested ({'some' if report.quarantined else 'no'} rows quarantined)")
    after = snapshot(store)
    for f in report.files:
        assert f.read == f.accepted + f.quarantined, f
        assert min(f.counts.new, f.counts.stored, f.counts.updated, f.quarantined) >= 0, f
    for table in APPEND_ONLY:  # nothing stored is lost or changed
        assert not _missing(before[table], after[table]), table
    with duckdb.connect(str(store), read_only=True) as con:

        def count(sql: str) -> int:
            return con.execute(sql, [report.ingest_id]).fetchone()[0]

        new_obs = sum(f.counts.new for f in report.files if f.table in OBSERVATION_TABLES)
        assert count("SELECT count(*) FROM observations WHERE ingest_id = ?") == new_obs
        assert count("SELECT count(*) FROM quarantine WHERE ingest_id = ?") == report.quarantined
        assert count("SELECT sum(rows_read) FROM ingest_files WHERE ingest_id = ?") == report.read
    return report


def _missing(before: list[str], after: list[str]) -> list[str]:
    remaining = list(after)
    missing = []
    for row in before:
        if row in remaining:
            remaining.remove(row)
        else:
            missing.append(row)
    return missing


@pytest.fixture
def work(base_store: Path) -> tempfile.TemporaryDirectory:
    """Per test, a folder for examples (hypothesis runs many examples in one test call)."""
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        yield Path(tmp)


def _example(work: Path, base_store: Path) -> tuple[Path, Path]:
    """A fresh copy of the base store and an empty registry folder for one example."""
    example = Path(tempfile.mkdtemp(dir=work))
    store = example / "store.duckdb"
    shutil.copy(base_store, store)
    (example / "raw").mkdir()
    return example / "raw", store


# ------------------------------------------------------------------------------------ 1. properties


@PROPERTY
@given(table=st.sampled_from(OBSERVATION_TABLES), file=csv_files("clinical"))
def test_malformed_observation_csv_never_crashes_or_damages_the_store(work, base_store, table, file) -> None:
    raw, store = _example(work, base_store)
    content, rows, well_formed = file
    fuzzed = raw / f"{table}.csv"
    fuzzed.write_bytes(content)
    report = ingest_checked(raw, fuzzed.resolve(), store, well_formed=well_formed)
    if report is not None and well_formed:
        assert report.files[0].read == rows


@settings(PROPERTY, max_examples=40)
@given(table=st.sampled_from(["patients", "outcomes"]), data=st.data())
def test_malformed_patients_or_outcomes_csv_never_crashes_or_damages_the_store(
    work, base_store, table, data
) -> None:
    raw, store = _example(work, base_store)
    content, rows, well_formed = data.draw(csv_files(table))
    fuzzed = raw / f"{table}.csv"
    fuzzed.write_bytes(content)
    make_registry(
        raw, patients=[], clinical=[obs("P1", "crp", "0.9", "mg/dL"), obs("P4", "crp", "1", "mg/dL")]
    )
    report = ingest_checked(raw, fuzzed.resolve(), store, well_formed=well_formed)
    if report is not None:
        assert report.files[-1].read == 2 and report.files[-1].counts.new >= 1  # P1 is stored already
    if report is not None and well_formed:
        assert report.files[0].read == rows


@settings(PROPERTY, max_examples=30)
@given(generated=parquet_tables())
def test_parquet_with_any_column_types_never_crashes_or_damages_the_store(
    work, base_store, generated
) -> None:
    raw, store = _example(work, base_store)
    table, textual = generated
    fuzzed = raw / "imaging.parquet"
    pq.write_table(table, fuzzed)
    report = ingest_checked(raw, fuzzed.resolve(), store, well_formed=textual)
    if report is not None:
        assert report.files[0].read == table.num_rows


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            b'patient_id,biomarker,value,collected_at,"note\r"\n',
            "line break in a column name",
        ),  # was: 0 rows read
        (
            b'patient_id,biomarker,value,collected_at,"a\nb"\n',
            "line break in a column name",
        ),  # was: columns lost
        (b"patient_id,biomarker,value,collected_at,\x00\n", "NUL byte in a column name"),  # was: an SQL error
        (b'patient_id,biomarker,value,collected_at,"open\n', "quoted name that is never closed"),
    ],
)
def test_headers_found_by_the_properties_are_refused_clearly(raw, store, header, message) -> None:
    make_registry(raw)
    (raw / "clinical.csv").write_bytes(header + b"P1,ldh,300,2024-02-25,x\n")
    with pytest.raises(FileFormatError, match=message) as caught:
        ingest_directory(raw, store=store)
    assert caught.value.line == 1 and not store.exists()


def test_a_store_another_process_filled_meanwhile_survives_a_failed_first_ingest(
    raw, store, tmp_path, monkeypatch
) -> None:
    """The store did not exist when this ingest started, but another one created and filled it
    before this one opened it: a failure here must not delete the other one's data."""
    make_registry(raw, clinical=[obs("P1", "ldh", "300", "U/L")])
    bad = make_registry(tmp_path / "bad", patients=[patient("P4")])
    (bad / "imaging.csv").write_text("patient_id,biomarker\nP4,tmtv\n")
    real_open = sys.modules["features.ingest"].open_store

    def open_after_another_ingest(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        monkeypatch.setattr("features.ingest.open_store", real_open)
        ingest_directory(raw, store=path)
        return real_open(path, read_only)

    monkeypatch.setattr("features.ingest.open_store", open_after_another_ingest)
    with pytest.raises(FileFormatError, match="missing required column"):
        ingest_directory(bad, store=store)
    assert store.exists()
    assert len(snapshot(store)["observations"]) == 1 and len(snapshot(store)["ingests"]) == 1


# ------------------------------------------------------------------------------------ 2, 3. processes

_HOOKED_INGEST = textwrap.dedent("""
    import sys
    from pathlib import Path
    import features.ingest as ingest

    hook, directory, store = sys.argv[1:]
    original = getattr(ingest, hook)

    def announced(*args, **kwargs):
        print("inside", flush=True)
        return original(*args, **kwargs)

    setattr(ingest, hook, announced)
    ingest.ingest_directory(Path(directory), store=Path(store))
    print("done", flush=True)
""")


_PAUSED_INGEST = textwrap.dedent("""
    import sys
    from pathlib import Path
    import features.ingest as ingest

    directory, store = sys.argv[1:]
    original = ingest._ingest

    def paused(*args, **kwargs):
        print("inside", flush=True)  # the store is open and locked: wait for the test to go on
        sys.stdin.readline()
        return original(*args, **kwargs)

    ingest._ingest = paused
    ingest.ingest_directory(Path(directory), store=Path(store))
    print("done", flush=True)
""")


def _read_until(proc: subprocess.Popen, marker: str) -> bool:
    """Read the child's stdout up to a line ``marker`` (True) or its end (False). Other lines are
    skipped: DuckDB prints its progress bar on stdout when a query runs over 2 s (a loaded machine)."""
    while line := proc.stdout.readline():
        if line.strip() == marker:
            return True
    return False


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dirty synthetic registry of 25,000 patients (about 0.9M rows) as CSV."""
    root = tmp_path_factory.mktemp("registry") / "raw"
    write_registry(generate_registry(n_patients=25_000, seed=11, dirty=True), root, fmt="csv")
    return root


@pytest.fixture
def prior(tmp_path: Path) -> Path:
    """A store holding one earlier, small ingest."""
    store = tmp_path / "store.duckdb"
    small = make_registry(
        tmp_path / "small",
        patients=[patient("Q1"), patient("Q2")],
        outcomes=[outcome("Q1")],
        clinical=[obs("Q1", "ldh", "300", "U/L"), obs("Q2", "ldh", "oops", "U/L")],
    )
    ingest_directory(small, store=store)
    return store


def fingerprint(store: Path, tables: tuple[str, ...] = TABLES) -> dict[str, tuple[int, int]]:
    """Per table, the row count and an order-free checksum of the rows (ingest times left out)."""
    with duckdb.connect(str(store), read_only=True) as con:
        return {
            t: con.execute(f"""SELECT count(*), coalesce(sum(hash(r)), 0)
                               FROM (SELECT * EXCLUDE (started_at, finished_at) FROM {t}) r""").fetchone()
            if t == "ingests"
            else con.execute(f"SELECT count(*), coalesce(sum(hash(r)), 0) FROM {t} r").fetchone()
            for t in tables
        }


def reference(prior: Path, tmp_path: Path, *directories: Path) -> dict[str, tuple[int, int]]:
    """The fingerprint of ``prior`` after ingesting ``directories`` in order, undisturbed."""
    store = tmp_path / f"reference-{len(directories)}.duckdb"
    shutil.copy(prior, store)
    for directory in directories:
        ingest_directory(directory, store=store)
    return fingerprint(store)


DATA = tuple(t for t in TABLES if t not in ("ingests", "ingest_files"))


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize(
    ("hook", "delay"),
    [
        ("classify_observations", 0.0),  # patients and outcomes written, observations not yet
        ("apply_observations", 0.15),  # in the middle of the big insert
        ("_record", 0.0),  # just before the commit
        ("_record", 0.25),  # during the commit (~0.3-0.5 s here), or just after: all or nothing
    ],
)
def test_a_killed_ingest_leaves_the_store_as_before_and_the_next_one_succeeds(
    registry,
    prior,
    tmp_path,
    hook,
    delay,
) -> None:
    before = snapshot(prior)
    complete = reference(prior, tmp_path, registry)
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOOKED_INGEST, hook, str(registry), str(prior)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_until(proc, "inside"), proc.stderr.read()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        rest = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    if "done" in rest:  # finished before the kill: acceptable only when aiming at the commit
        assert hook == "_record", "the ingest finished before it was killed; the test needs a larger registry"
    else:
        assert proc.returncode == -signal.SIGKILL
    if not (hook == "_record" and fingerprint(prior) == complete):  # (the commit had become durable)
        assert snapshot(prior) == before  # nothing of the killed ingest, everything of the earlier one
    report = ingest_directory(registry, store=prior)
    assert all(f.read == f.accepted + f.quarantined for f in report.files)
    assert fingerprint(prior, DATA) == {t: complete[t] for t in DATA}
    assert ingest_directory(registry, store=prior).new == 0


def _holds_lock(pid: int, path: Path) -> bool:
    """Whether process ``pid`` holds a POSIX lock on ``path`` (Linux /proc/locks)."""
    inode = f":{path.stat().st_ino}" if path.exists() else None
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # "1: POSIX ADVISORY WRITE <pid> <major>:<minor>:<inode> <start> <end>"
        if (
            len(fields) >= 6
            and fields[1] == "POSIX"
            and fields[4] == str(pid)
            and fields[5].endswith(inode or "?")
        ):
            return True
    return False


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(
    not Path("/proc/locks").exists() or not CLI.exists(), reason="needs Linux /proc/locks and the CLI"
)
def test_a_second_concurrent_ingest_fails_cleanly_and_the_store_keeps_one_complete_copy(
    registry,
    prior,
    tmp_path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory, tables in (
        (first, ("patients", "outcomes", "clinical")),
        (second, ("patients", "imaging", "ctdna", "cellular")),
    ):
        directory.mkdir()
        for table in tables:
            shutil.copy(registry / f"{table}.csv", directory / f"{table}.csv")
    after_first, after_both = reference(prior, tmp_path, first), reference(prior, tmp_path, first, second)
    env = os.environ | {"COLUMNS": "400"}
    # the first ingest pauses once it holds the store (however fast this machine ingests)
    one = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_INGEST, str(first), str(prior)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_until(one, "inside") and _holds_lock(one.pid, prior), one.stderr.read()
        two = subprocess.run(
            [CLI, "ingest", second, "--store", prior], capture_output=True, text=True, env=env, timeout=120
        )
        out, err = one.communicate("go\n", timeout=300)
    finally:
        one.kill()
    assert one.returncode == 0 and "done" in out, err
    message = " ".join(two.stderr.split())
    assert two.returncode != 0 and "is locked by another process" in message, (two.returncode, message)
    assert f"(PID {one.pid})" in message and "Traceback" not in two.stderr + two.stdout
    assert fingerprint(prior) == after_first  # the store opens and holds exactly the first ingest
    rerun = ingest_directory(second, store=prior)
    assert rerun.new > 0 and all(f.read == f.accepted + f.quarantined for f in rerun.files)
    assert fingerprint(prior, DATA) == {t: after_both[t] for t in DATA}
    assert ingest_directory(first, store=prior).new == 0 and ingest_directory(second, store=prior).new == 0
