"""The code blocks of the guides (docs/guides/*.md) and how the tests run them, as a reader would.

Convention (stated in docs/guides/index.md):

* a fenced block tagged ``bash`` or ``python`` is executed, in the order of the page; other tags
  (``text``, ``json``, ``console``) are output or illustrations and are not;
* a block whose first line is ``# set once per terminal`` sets the guide's variables: it runs once and
  the environment it exports is the environment of every later block of that guide;
* a block whose first line starts ``# runs until you stop it`` starts a server: it runs in the
  background until the guide ends (or the next such block starts), and the guide continues once the URL
  named on that line as ``once <url> answers`` answers 200;
* a block whose first line is ``# not executed: <reason>`` is never run; the reason is required.

Bash blocks run in ``bash`` with ``set -euo pipefail`` and the repository's venv first on PATH, python
blocks in a fresh interpreter of that venv; both from the repository root, as the reader runs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
GUIDES = REPO / "docs" / "guides"
EXECUTABLE = ("bash", "python")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INDENTED_FENCE = re.compile(r"^[ \t]+```(bash|python)\b", re.MULTILINE)
ENVIRONMENT = "# set once per terminal"
BACKGROUND = re.compile(r"^# runs until you stop it\b.*\bonce (?P<url>\S+) answers")
NOT_EXECUTED = re.compile(r"^# not executed:\s*(?P<reason>.*)$")
BLOCK_TIMEOUT = 900.0
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class Block:
    """One fenced code block of a guide."""

    guide: str
    line: int
    lang: str
    source: str

    @property
    def first_line(self) -> str:
        return self.source.splitlines()[0].strip() if self.source.strip() else ""

    @property
    def kind(self) -> str:
        """``text`` (not code), ``not executed``, ``environment``, ``background`` or ``run``."""
        if self.lang not in EXECUTABLE:
            return "text"
        if NOT_EXECUTED.match(self.first_line):
            return "not executed"
        if self.first_line.lower() == ENVIRONMENT:
            return "environment"
        return "background" if BACKGROUND.match(self.first_line) else "run"

    @property
    def reason(self) -> str:
        found = NOT_EXECUTED.match(self.first_line)
        return found["reason"].strip() if found else ""

    def __str__(self) -> str:
        return f"{self.guide}:{self.line} ({self.lang})"


@dataclass(frozen=True)
class BlockRun:
    """What running one block gave."""

    block: Block
    returncode: int
    output: str


def guide_paths() -> list[Path]:
    """Every guide page (the index, which only links them, included)."""
    return sorted(GUIDES.glob("*.md"))


def guide_blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` that start at the beginning of a line, in page order."""
    text = path.read_text(encoding="utf-8")
    return [
        Block(path.name, text.count("\n", 0, m.start()) + 1, m["lang"], m["body"])
        for m in FENCE.finditer(text)
    ]


def indented_code_fences(path: Path) -> list[int]:
    """Line numbers of indented ``bash``/``python`` fences (lists, admonitions), which escape the runner."""
    text = path.read_text(encoding="utf-8")
    return [text.count("\n", 0, m.start()) + 1 for m in INDENTED_FENCE.finditer(text)]


def reader_environment(**variables: str) -> dict[str, str]:
    """This process's environment as a reader's terminal would have it: the venv first on PATH, no
    MLflow URI (each guide sets its own), and ``variables`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CART_RELAPSE_", "PYTEST_"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return {**env, **variables}


@dataclass
class GuideSession:
    """Runs one guide's blocks in order, like a reader at one terminal (see the module docstring)."""

    env: dict[str, str]
    scratch: Path
    workdir: Path = REPO
    runs: list[BlockRun] = field(default_factory=list)
    _server: subprocess.Popen | None = None
    _server_url: str = ""

    def run(self, block: Block) -> BlockRun:
        """Run ``block`` as its kind says; ``not executed`` and text blocks give returncode 0, no output."""
        runner = {"environment": self._environment, "background": self._background, "run": self._foreground}
        result = runner[block.kind](block) if block.kind in runner else BlockRun(block, 0, "")
        self.runs.append(result)
        return result

    def close(self) -> None:
        """Stop the background server, if any (its whole process group), and wait until its URL is down."""
        if self._server is None:
            return
        server, self._server = self._server, None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, sig)
            if self._down(self._server_url, timeout=30):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)  # the shell that ran the block

    def _foreground(self, block: Block) -> BlockRun:
        script = self._script(block)
        # `python` is the venv's (first on PATH), as the reader types it
        command = ["bash" if block.lang == "bash" else "python", str(script)]
        result = subprocess.run(
            command,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
        return BlockRun(block, result.returncode, result.stdout + result.stderr)

    def _environment(self, block: Block) -> BlockRun:
        script = self._script(block, suffix=".sh")
        result = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; source {script}; env -0"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if result.returncode == 0:
            pairs = (item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
            self.env = dict(pairs)
        return BlockRun(block, result.returncode, result.stderr.decode())

    def _background(self, block: Block) -> BlockRun:
        self.close()
        url = self._expand(BACKGROUND.match(block.first_line)["url"])
        script = self._script(block)
        log_path = script.with_suffix(".log")
        with log_path.open("wb") as log:
            self._server = subprocess.Popen(
                ["bash", str(script)],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._server_url = url
        ready = self._wait_for(url)
        output = log_path.read_text(errors="replace")
        return BlockRun(block, 0 if ready else 1, output + ("" if ready else f"\n{url} did not answer 200"))

    @staticmethod
    def _down(url: str, *, timeout: float) -> bool:
        """Wait until nothing answers at ``url`` (its port is free); False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1.0)
            except httpx.TransportError:
                return True
            time.sleep(0.2)
        return False

    def _wait_for(self, url: str) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and self._server is not None and self._server.poll() is None:
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    def _expand(self, text: str) -> str:
        result = subprocess.run(
            ["bash", "-c", f'set -u; printf %s "{text}"'],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout

    def _script(self, block: Block, suffix: str | None = None) -> Path:
        suffix = suffix or (".py" if block.lang == "python" else ".sh")
        path = self.scratch / f"{Path(block.guide).stem}-{block.line}{suffix}"
        prelude = "set -euo pipefail\n" if block.lang == "bash" else ""
        path.write_text(prelude + block.source, encoding="utf-8")
        return path
