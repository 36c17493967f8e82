"""Load the configured models again and swap in each one that passes the probe, without downtime.

Used for the start-up load, ``POST /v1/admin/reload`` and SIGHUP. A reload runs in its own thread
(requests keep being answered by the models being served) and one at a time. Per landmark:

* a candidate that loads and passes :func:`serving.probe.probe_model` replaces the served model
  in one reference swap (``swapped``); the same registry version as the served one is kept
  (``unchanged``);
* a candidate that fails to load or fails the probe is ``refused``: a served model keeps serving;
  a landmark without one keeps (or gets) the failure as its reason on ``/health/ready``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .loader import Loader, LoadFailure, ModelRegistry, ModelSlot, describe_error, redact
from .model import ServingModel
from .probe import ProbeFailure, probe_model
from .settings import Settings

logger = logging.getLogger("cart_relapse.serving")

Trigger = Literal["startup", "api", "signal"]
Outcome = Literal["swapped", "unchanged", "refused"]


@dataclass(frozen=True)
class LandmarkReload:
    """What one reload did for one landmark.

    Attributes:
        uri: the configured model URI (credentials redacted).
        candidate_version: the version the reload loaded (None when it could not be loaded).
        serving_version: the version served after the reload (None when the landmark has no model).
        reason: why the candidate was refused.
    """

    landmark: str
    outcome: Outcome
    uri: str
    candidate_version: str | None
    serving_version: str | None
    reason: str | None = None


@dataclass(frozen=True)
class ReloadReport:
    """One reload: ``outcome`` is ``refused`` if any landmark refused, else ``swapped`` if any swapped."""

    number: int
    trigger: Trigger
    outcome: Outcome
    started_at: datetime
    finished_at: datetime
    landmarks: tuple[LandmarkReload, ...]


class Reloader:
    """Runs reloads of a registry (one at a time, each in a background thread) and keeps the last report."""

    def __init__(self, registry: ModelRegistry, loader: Loader, settings: Settings) -> None:
        self.registry = registry
        self._loader = loader
        self._settings = settings
        self._one_at_a_time = threading.Lock()
        self._state = threading.Lock()
        self._count = 0
        self._pending = 0
        self.last: ReloadReport | None = None

    @property
    def in_progress(self) -> bool:
        """True while a reload is running or waiting for the running one."""
        return self._pending > 0

    def start(self, trigger: Trigger) -> Future[ReloadReport]:
        """Start a reload in a new thread; it waits for a running one, then loads afresh.

        Args:
            trigger: what asked for it (reported on ``/v1/models``).

        Returns:
            A future resolved with the report when the reload has finished.
        """
        future: Future[ReloadReport] = Future()
        with self._state:
            self._pending += 1
        threading.Thread(
            target=self._run, args=(trigger, future), name=f"model-reload-{trigger}", daemon=True
        ).start()
        return future

    def reload(self, trigger: Trigger) -> ReloadReport:
        """Reload in the calling thread (waiting for a running reload first)."""
        with self._one_at_a_time:
            started = datetime.now(UTC)
            candidates = self._load_candidates()
            outcomes = tuple(self._apply(lm, candidates.get(lm)) for lm in self.registry.landmarks)
            with self._state:
                self._count += 1
                report = ReloadReport(
                    number=self._count,
                    trigger=trigger,
                    outcome=_overall(outcomes),
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    landmarks=outcomes,
                )
                self.last = report
        _log_report(report)
        return report

    def _run(self, trigger: Trigger, future: Future[ReloadReport]) -> None:
        try:
            future.set_result(self.reload(trigger))
        except BaseException as exc:  # never expected (every failure becomes a refusal), but never lost
            logger.error("model reload (%s) crashed: %s", trigger, describe_error(exc))
            future.set_exception(exc)
        finally:
            with self._state:
                self._pending -= 1

    def _load_candidates(self) -> Mapping[str, ModelSlot]:
        try:
            return self._loader(self._settings)
        except Exception as exc:  # e.g. MLflow not importable or the tracking URI unusable
            reason = f"model loading failed: {describe_error(exc)}"
            return {lm: LoadFailure(lm, self._uri(lm), reason) for lm in self.registry.landmarks}

    def _apply(self, landmark: str, candidate: ModelSlot | None) -> LandmarkReload:
        served = self.registry.get(landmark)
        if not isinstance(candidate, ServingModel):
            failure = candidate or LoadFailure(
                landmark, self._uri(landmark), "the loader returned no model for it"
            )
            return self._refuse(served, failure, candidate_version=None)
        if isinstance(served, ServingModel) and _same_version(served, candidate):
            return LandmarkReload(landmark, "unchanged", served.uri, candidate.version, served.version)
        try:
            if candidate.landmark != landmark:
                raise ProbeFailure(f"it is a model for the {candidate.landmark!r} landmark, not {landmark!r}")
            probe_model(candidate)
        except ProbeFailure as exc:
            failure = LoadFailure(landmark, candidate.uri, f"version {candidate.version} refused: {exc}")
            return self._refuse(served, failure, candidate_version=candidate.version)
        self.registry.swap(landmark, candidate)
        return LandmarkReload(landmark, "swapped", candidate.uri, candidate.version, candidate.version)

    def _refuse(
        self, served: ModelSlot | None, failure: LoadFailure, *, candidate_version: str | None
    ) -> LandmarkReload:
        """Keep a served model; a landmark without one shows the newest failure as its reason."""
        if not isinstance(served, ServingModel):
            self.registry.swap(failure.landmark, failure)
        version = served.version if isinstance(served, ServingModel) else None
        return LandmarkReload(
            failure.landmark, "refused", failure.uri, candidate_version, version, failure.reason
        )

    def _uri(self, landmark: str) -> str:
        return redact(self._settings.model_uri(landmark))


def _same_version(served: ServingModel, candidate: ServingModel) -> bool:
    return served.version is not None and (served.name, served.version) == (candidate.name, candidate.version)


def _overall(outcomes: tuple[LandmarkReload, ...]) -> Outcome:
    kinds = {o.outcome for o in outcomes}
    return "refused" if "refused" in kinds else "swapped" if "swapped" in kinds else "unchanged"


def _log_report(report: ReloadReport) -> None:
    for item in report.landmarks:
        level = logging.WARNING if item.outcome == "refused" else logging.INFO
        logger.log(
            level,
            "model reload #%d (%s): %s %s, candidate version %s, serving version %s%s",
            report.number,
            report.trigger,
            item.landmark,
            item.outcome,
            item.candidate_version,
            item.serving_version,
            f": {item.reason}" if item.reason else "",
        )
