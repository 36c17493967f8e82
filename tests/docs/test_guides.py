"""Every example of the guides runs, in order, as a reader runs it (docs/guides/*.md; the convention is in
tests/docs/guide_blocks.py): the training guide on its own practice export, the other three against a small
demo-like registry built once per session; exit codes always, key output lines where they matter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cart_relapse.process import free_port
from tests.conftest import run_cli

from .guide_blocks import (
    GUIDES,
    REPO,
    Block,
    BlockRun,
    GuideSession,
    guide_blocks,
    guide_paths,
    indented_code_fences,
    reader_environment,
)

GUIDE_PAGES = ("train-your-registry.md", "score-a-cohort.md", "integrate.md", "read-a-prediction.md")
DEMO_GUIDES = GUIDE_PAGES[1:]
DEMO_PATIENTS = 1500
EXCUSES = re.compile(
    r"\b(needs java|java 1\d|jdk|pyspark|spark extra|slow|too long|takes (long|minutes))\b", re.IGNORECASE
)
"""Reasons that do not excuse a block: the guides' tests are slow, run by `make test` with Java and Spark."""
INGEST_LINE = re.compile(r"([\d,]+) rows read = ([\d,]+) accepted \(([\d,]+) new\) \+ ([\d,]+) quarantined")
REASON_ROW = re.compile(r"^\| `([a-z ]+)` \|", re.MULTILINE)
GROUP = r"(low|intermediate|high)"

# guide -> {a pattern found in a block's source: patterns its output must contain}; a pattern of the left side
# may match several blocks (each must then show the output), and must match at least one.
EXPECTED: dict[str, dict[str, list[str]]] = {
    "train-your-registry.md": {
        r"practice_export\.py": [
            r"wrote \S+/labs\.csv \([\d,]+ rows\)",
            r"wrote \S+/outcomes\.csv \(1,500 rows\)",
        ],
        r'"long/history\.csv"': [r"1,500 patients, [\d,]+ history rows"],
        r'"long/labs\.csv"': [r"[\d,]+ reports -> [\d,]+ lab rows"],
        r'"long/pet\.csv"': [r"[\d,]+ PET reports -> [\d,]+ imaging rows"],
        r'"long/assays\.csv"': [r"[\d,]+ assay rows, [\d,]+ below the limit of detection"],
        r'"raw/outcomes\.csv"': [r"left out, progression without a date: P\S+, P\S+", r"1,498 outcome rows"],
        r"groupby\(table\)": [
            rf"raw/{t}\.csv: [\d,]+ rows" for t in ("cellular", "clinical", "ctdna", "imaging")
        ],
        r"cart-relapse ingest": [INGEST_LINE.pattern],
        r"read_quarantine": [r"unknown unit\s+unit"],
        r"cart-relapse train --store \S+\n$": [
            r"WARNING: Riley et al\. 2020: \d+ candidate parameters need at least [\d,]+ patients "
            r".*TOO SMALL",
            r"score:car_hematotox skipped: car_hematotox cannot be computed for any development patient",
            r"preinfusion: what each modality adds",
            r"day30: what each modality adds",
            r"registered cart-relapse-preinfusion v1 \(promote: no current champion\)",
            r"registered cart-relapse-day30 v1 \(promote: no current champion\)",
        ],
        r"list_artifacts": [
            r"'model_card\.md'",
            r"'ablation\.csv'",
            r"'gate\.json'",
            r"# Model card: cart-relapse-preinfusion v1",
        ],
        r"--seed 8": [
            r"registered cart-relapse-preinfusion v2 \((keep current champion|promote): held-out Uno's C "
            r"\(365 d\) [\d.]+ vs champion v1 [\d.]+: difference [+-][\d.]+ \(paired bootstrap 95% CI"
        ],
        r"search_model_versions": [r"aliases: \{.*'challenger': '?2'?", r"v1: promote: no current champion"],
    },
    "score-a-cohort.md": {
        r"cart-relapse features --store \"\$CART_RELAPSE_DATA/store": [
            r"wrote \S+features_preinfusion\.parquet: [\d,]+ patients x 55 columns \(preinfusion\)"
        ],
        r"cart-relapse score --landmark": [
            r"wrote \S+scores\.parquet: [\d,]+ patients scored with cart-relapse-preinfusion v1"
        ],
        r"risks = scores": [r"risk_group\s+" + GROUP, r"most frequent first driver: \{'"],
        r"cart-relapse synth --patients 800": [
            r"drift of [\d,]+ patients vs cart-relapse-preinfusion v1: flagged features: .*; "
            r"score (stable|shifted)"
        ],
        r"batch\.loc\[at_c03": [r"\d+ patients at C03"],
        r"features_crp_error\.parquet\" \\": [r"flagged features: [^;]*crp_preld"],
        r"report\[\"summary\"\]": [
            r"'flagged': \[[^\]]*'crp_preld'",
            r"crp_preld: PSI [\d.]+; .*unit factor 10\?",
        ],
        r"--engine spark --landmark": [
            r"wrote \S+scores_spark: [\d,]+ patients scored with cart-relapse-preinfusion v1"
        ],
        r"largest difference": [r"[\d,]+ patients; largest difference from the local engine: "],
        r"score_dataframe": [r"cart-relapse-preinfusion v1: [\d,]+ patients", r"\|patient_id\|risk_365d"],
    },
    "integrate.md": {
        r"/v1/models\", headers": [
            r"preinfusion: cart-relapse-preinfusion v1 \(ready\), 51 features",
            r"day30: cart-relapse-day30 v1 \(ready\), 67 features",
            r"crp_preld: unit 'mg/dL', accepted \['mg/dL', 'mg/L'\]",
        ],
        r"prediction\.json": [r"\{'90': [\d.]+, '180': [\d.]+, '365': [\d.]+, '730': [\d.]+\} " + GROUP],
        r"/batch\", json=batch": [r"one: [\d.]+ " + GROUP, r"example-75 [\d.]+ " + GROUP],
        r"day60": [
            r'"loc":\["body","features","age"\]',
            r'"loc":\["body","features","crp_preld","unit"\]',
            r'"type":"unknown_feature"',
            r"without the token: 401",
            r"unknown landmark 'day60'.* 404",
        ],
        r"\* 1001": [
            r"413 \{'detail': 'patients: 1001 patients exceed the maximum of 1000 per batch request'\}"
        ],
        r"synth\.fhir": [
            r"wrote 200 files to \S+: \{'Patient': 200",
            INGEST_LINE.pattern,
            r"wrote \S+fhir-features\.parquet: [\d,]+ patients",
        ],
        r"ECAlgorithm": [r"wrote \S+ehr-jwks\.json \(public\)"],
        r"CART_RELAPSE_CDS_JWKS_FILE": [r"Application startup complete"],
        r"def ehr_jwt": [
            r"services: \['cart-relapse-preinfusion', 'cart-relapse-day30'\]",
            r"(info|warning|critical) \| CAR-T relapse risk at infusion: [\d.]+% risk of progression",
            r"cart-relapse-preinfusion version 1 \(synthetic data\)",
        ],
    },
    "read-a-prediction.md": {
        r"example-67M\.request\.json\"\)\.write_text": [
            r'"risk_curve": \{',
            r'"scale": "log relative hazard"',
            r'"notice": "Trained on SYNTHETIC',
        ],
        r"previous = \(0, 0\.0\)": [
            r"by day 730: [\d.]+%",
            r"alive and free of progression at 12 months: [\d.]+%",
        ],
        r"observed_risk": [
            r"thresholds: \{'low': 0\.3, 'high': 0\.6",
            r"high: observed 12-month risk [\d.]+% \(95% CI",
        ],
        r"modality_totals": [
            r"base value [+-][\d.]+ \+ contributions = margin [+-][\d.]+ \(log relative hazard\)",
            r"hazard x [\d.]+",
        ],
        r"ctdna_preld\"\] = 0": [r"\d+ missing: ", r"with ctDNA 0: 12-month risk [\d.]+% -> [\d.]+%"],
        r"albumin_preld\": 35": [
            r"200 \[\"tmtv_preld = 15000 mL is outside the training data's central 99%",
            r"422 \[\{'loc': \['body', 'features', 'albumin_preld'\]",
        ],
    },
}


# ---------------------------------------------------------------- the convention (fast)


def test_the_guides_come_right_after_home_in_the_navigation() -> None:
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    assert list(nav[1]) == ["Guides"]
    pages = [next(iter(item.values())) for item in nav[1]["Guides"]]
    assert pages == ["guides/index.md", *(f"guides/{page}" for page in GUIDE_PAGES)]
    assert sorted(p.name for p in guide_paths()) == sorted(["index.md", *GUIDE_PAGES])


@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_every_code_block_runs_or_says_why_not(page: str) -> None:
    path = GUIDES / page
    blocks = [b for b in guide_blocks(path) if b.kind != "text"]
    assert indented_code_fences(path) == [], (
        "an indented bash/python block would not be run: keep code at column 0"
    )
    assert blocks[0].kind == "environment", (
        "the first code block sets the guide's variables (# set once per terminal)"
    )
    for block in blocks:
        if block.kind == "not executed":
            assert len(block.reason.split()) >= 3, f"{block}: say why it is not executed"
            assert not EXCUSES.search(block.reason), (
                f"{block}: {block.reason!r} is no reason (slow blocks run)"
            )
    assert sum(b.kind in ("run", "background") for b in blocks) >= 5


@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_each_guide_documents_the_variables_it_sets(page: str) -> None:
    text = (GUIDES / page).read_text(encoding="utf-8")
    environment = next(b for b in guide_blocks(GUIDES / page) if b.kind == "environment")
    exported = re.findall(r"^export (\w+)=", environment.source, flags=re.MULTILINE)
    undocumented = [name for name in exported if not re.search(rf"^\|[^\n]*`{name}`", text, re.MULTILINE)]
    assert exported and undocumented == [], undocumented


@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_every_expectation_names_a_block_that_runs(page: str) -> None:
    runnable = [b for b in guide_blocks(GUIDES / page) if b.kind in ("run", "background")]
    unmatched = [
        key for key in EXPECTED[page] if not any(re.search(key, b.source, re.MULTILINE) for b in runnable)
    ]
    assert unmatched == []


def test_blocks_are_parsed_with_their_kind_reason_and_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# T\n\n```bash\n# set once per terminal\nexport X=1\n```\n\n```text\nout\n```\n\n"
        "```python\n# not executed: needs the hospital's network\nprint(1)\n```\n\n"
        "```bash\n# runs until you stop it (Ctrl-C): continue once $API/health answers\nserve\n```\n\n"
        "- a list\n\n    ```bash\n    hidden\n    ```\n\n```python\nprint(2)\n```\n",
        encoding="utf-8",
    )
    blocks = guide_blocks(page)
    assert [(b.line, b.lang, b.kind) for b in blocks] == [
        (3, "bash", "environment"),
        (8, "text", "text"),
        (12, "python", "not executed"),
        (17, "bash", "background"),
        (28, "python", "run"),
    ]
    assert blocks[2].reason == "needs the hospital's network"
    assert indented_code_fences(page) == [24]


def test_a_session_keeps_the_exported_environment_and_reports_failures(tmp_path: Path) -> None:
    session = GuideSession(env=reader_environment(), scratch=tmp_path)
    block = lambda lang, source: Block("page.md", 1, lang, source)  # noqa: E731
    assert (
        session.run(block("bash", "# set once per terminal\nexport GREETING=${GREETING:-hello}\n")).returncode
        == 0
    )
    assert session.run(block("bash", 'echo "$GREETING from $(command -v python)"\n')).output.startswith(
        "hello from /"
    )
    assert session.run(block("python", "import os; print(os.environ['GREETING'])\n")).output == "hello\n"
    failed = session.run(block("bash", "false\necho never\n"))
    assert failed.returncode != 0 and "never" not in failed.output
    assert session.run(block("python", "raise SystemExit('stop')\n")).returncode == 1


# ---------------------------------------------------------------- running the guides (slow)


@pytest.fixture(scope="session")
def demo_like_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make demo` leaves in data/, smaller: a dirty synthetic registry of 1,500 patients ingested, both
    landmarks' feature frames, both models trained (one hyperparameter configuration) and registered."""
    data = tmp_path_factory.mktemp("guides-data")
    env = reader_environment(MLFLOW_TRACKING_URI=f"sqlite:///{data / 'mlflow.db'}")
    store = str(data / "store.duckdb")
    run_cli(
        "synth",
        "--patients",
        str(DEMO_PATIENTS),
        "--seed",
        "3",
        "--dirty",
        "--out",
        str(data / "raw"),
        env=env,
    )
    run_cli("ingest", str(data / "raw"), "--store", store, env=env)
    for landmark in ("preinfusion", "day30"):
        run_cli(
            "features",
            "--store",
            store,
            "--landmark",
            landmark,
            "--out",
            str(data / f"features_{landmark}.parquet"),
            env=env,
        )
    run_cli("train", "--store", store, "--landmark", "all", "--n-configs", "1", env=env)
    return data


@pytest.mark.slow
@pytest.mark.integration
def test_the_training_guide_runs_from_export_to_champion_gate(tmp_path: Path) -> None:
    runs = run_guide("train-your-registry.md", tmp_path, REGISTRY=str(tmp_path / "registry"))
    ingests = [run for run in runs if "cart-relapse ingest" in run.block.source]
    counts = [[int(n.replace(",", "")) for n in INGEST_LINE.search(run.output).groups()] for run in ingests]
    assert all(read == accepted + quarantined for read, accepted, _new, quarantined in counts)
    assert len(counts) == 2 and counts[1][3] < counts[0][3] and counts[1][2] > 0  # the fixed CRP rows came in
    quarantine = next(run for run in runs if "read_quarantine" in run.block.source).output
    explained = set(REASON_ROW.findall((GUIDES / "train-your-registry.md").read_text(encoding="utf-8")))
    found = {reason for reason in explained if re.search(rf"^{reason}\s", quarantine, re.MULTILINE)}
    assert found == explained, f"the guide explains {sorted(explained)}; the report shows {quarantine}"
    assert (tmp_path / "registry" / "mlflow.db").is_file()


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("page", DEMO_GUIDES)
def test_a_guide_runs_against_the_demo_registry(page: str, demo_like_data: Path, tmp_path: Path) -> None:
    run_guide(page, tmp_path, CART_RELAPSE_DATA=str(demo_like_data), PORT=str(free_port()))


def run_guide(page: str, scratch: Path, **variables: str) -> list[BlockRun]:
    """Run every block of ``page`` in order; fail at the first non-zero exit or missing output line."""
    session = GuideSession(env=reader_environment(**variables), scratch=scratch)
    try:
        for block in guide_blocks(GUIDES / page):
            run = session.run(block)
            context = f"{block}: {block.source[:300]}\n--- output ---\n{run.output[-4000:]}"
            assert run.returncode == 0, f"exit {run.returncode} in {context}"
            for pattern in expected_for(page, block):
                assert re.search(pattern, run.output, re.MULTILINE), (
                    f"no line matching {pattern!r} in {context}"
                )
    finally:
        session.close()
    return session.runs


def expected_for(page: str, block: Block) -> list[str]:
    """The output patterns of ``block`` (see EXPECTED)."""
    if block.kind not in ("run", "background"):
        return []
    matching = [
        patterns for key, patterns in EXPECTED[page].items() if re.search(key, block.source, re.MULTILINE)
    ]
    return [pattern for patterns in matching for pattern in patterns]
