"""``write_registry``: one file per table, CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMATS = ("csv", "parquet")


def write_registry(tables: dict[str, pd.DataFrame], out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write ``<table>.csv`` or ``<table>.parquet`` files into ``out_dir``.

    Args:
        tables: table name -> frame (as returned by ``generate_registry``).
        out_dir: destination folder, created if needed.
        fmt: ``csv`` (UTF-8, header row, ISO dates, empty for missing) or ``parquet``.

    Returns:
        The paths written, in table order.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, encoding="utf-8")
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths
