"""Short-lived, in-memory hand-off of a CDS card's values to the clinician page.

The card links ``/ui/{landmark}/from-card/{id}`` with a random id (192 bits); the values stay in this
process's memory, never in a URL (access logs, browser history), and expire after
``CART_RELAPSE_HANDOFF_MINUTES`` (30 by default). At most ``MAX_ENTRIES`` are kept (the oldest go
first). A restart, or another worker process, does not know the id: the page then says the link expired.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 2000


@dataclass(frozen=True)
class Handoff:
    """What a card passes to the page: the request features and whom and which model they were for."""

    landmark: str
    features: dict[str, Any]
    patient_id: str
    model_version: str | None
    landmark_date: str


class HandoffStore:
    """Id -> hand-off, each for ``ttl_seconds``."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl, self._max, self._clock = ttl_seconds, max_entries, clock
        self._entries: OrderedDict[str, tuple[float, Handoff]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, handoff: Handoff) -> str:
        """Keep ``handoff``; returns its new random id (URL-safe)."""
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            self._entries[key] = (self._clock() + self._ttl, handoff)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return key

    def get(self, key: str) -> Handoff | None:
        """The hand-off, or None when unknown or expired."""
        with self._lock:
            self._expire()
            entry = self._entries.get(key)
        return entry[1] if entry else None

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries and next(iter(self._entries.values()))[0] <= now:
            self._entries.popitem(last=False)
