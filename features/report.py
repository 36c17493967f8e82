"""The ingest report: per file, rows read = accepted (new + already stored + updated) + quarantined."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .persist import FileCounts


@dataclass(frozen=True)
class FileReport:
    """One file of an ingest."""

    file: Path
    table: str
    read: int
    counts: FileCounts = field(default_factory=FileCounts)

    @property
    def accepted(self) -> int:
        """Rows accepted: new, already stored, or updated."""
        return self.counts.new + self.counts.stored + self.counts.updated

    @property
    def quarantined(self) -> int:
        """Rows quarantined from this file."""
        return self.counts.quarantined


@dataclass(frozen=True)
class IngestReport:
    """What one ``ingest_directory`` call did."""

    ingest_id: int
    directory: Path
    store: Path
    files: tuple[FileReport, ...]
    seconds: float

    @property
    def read(self) -> int:
        """Rows read over every file."""
        return sum(f.read for f in self.files)

    @property
    def accepted(self) -> int:
        """Rows accepted over every file."""
        return sum(f.accepted for f in self.files)

    @property
    def new(self) -> int:
        """New rows stored over every file."""
        return sum(f.counts.new for f in self.files)

    @property
    def quarantined(self) -> int:
        """Rows quarantined in this ingest (the CLI's ``--strict`` fails when it is not 0)."""
        return sum(f.quarantined for f in self.files)

    def render(self) -> RenderableType:
        """A rich table of the files, then a one-line summary."""
        table = Table(
            title=f"ingest {self.ingest_id}: {self.directory} -> {self.store}", title_justify="left"
        )
        for name in ("file", "read", "accepted", "new", "stored", "updated", "quarantined"):
            table.add_column(name, justify="left" if name == "file" else "right")
        table.add_column("top quarantine reasons")
        for f in self.files:
            table.add_row(
                f.file.name,
                f"{f.read:,}",
                f"{f.accepted:,}",
                f"{f.counts.new:,}",
                f"{f.counts.stored:,}",
                f"{f.counts.updated:,}",
                _red_if(f.quarantined),
                _reasons(f.counts),
            )
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        summary = Text(
            f"{self.read:,} rows read = {self.accepted:,} accepted ({self.new:,} new) + "
            f"{self.quarantined:,} quarantined, in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        return Group(table, summary)


def _red_if(count: int) -> Text:
    return Text(f"{count:,}", style="red" if count else "")


def _reasons(counts: FileCounts) -> str:
    return "; ".join(f"{reason} ({field_}): {rows:,}" for reason, field_, rows in counts.reasons)
