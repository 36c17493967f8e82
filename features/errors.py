"""Errors raised to users of the feature store: each names the file, line or field at fault."""

from __future__ import annotations


class RegistryError(Exception):
    """A registry file or store that cannot be used as it is; nothing was written."""


class FileFormatError(RegistryError):
    """A file that cannot be parsed at all (names the file and, where known, the line)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
        self.path, self.reason, self.line = path, reason, line
