"""`python -m synth.fhir` as the guides run it (its helpers must be defined before the module's main runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_module_runs_as_a_script(tmp_path: Path) -> None:
    out = tmp_path / "fhir"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "synth.fhir",
            str(out),
            "--patients",
            "5",
            "--layout",
            "bundle",
            "--irregular",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote 5 files to {out}: {{'Patient': 5,")
    assert sorted(p.suffix for p in out.iterdir()) == [".json"] * 5
