"""``generate_registry``: the synthetic CAR-T registry, drawn from a latent causal model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .assemble import observation_tables
from .cohort import DATA_CUTOFF, Arrays, sample_patients
from .course import sample_course
from .dirty import add_dirty_rows
from .emit_cellular import emit_cellular
from .emit_ctdna import emit_ctdna
from .emit_history import emit_history
from .emit_imaging import emit_imaging
from .emit_labs import emit_labs
from .followup import sample_followup
from .latents import sample_history
from .pet import sample_day30_pet
from .rows import RowBlock, add_corrections, add_repeats, keep_observable
from .tables import outcomes_table, patient_ids, patients_table

TABLES = ("patients", "clinical", "imaging", "ctdna", "cellular", "outcomes")


def generate_registry(n_patients: int, seed: int, dirty: bool = False) -> dict[str, pd.DataFrame]:
    """Generate a synthetic registry of apheresed CAR-T patients.

    Args:
        n_patients: number of apheresed patients (infused or not).
        seed: random seed; the same seed gives the same registry.
        dirty: add a small fraction of realistic bad rows of every kind ingest must reject.

    Returns:
        Tables ``patients``, ``clinical``, ``imaging``, ``ctdna``, ``cellular``, ``outcomes`` with the
        columns of docs/data-format.md; values and dates as text.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    rng = np.random.default_rng(seed)
    ctx = simulate_patients(rng, n_patients)
    ids = patient_ids(n_patients)
    tables = {
        "patients": patients_table(ctx, ids),
        **observation_tables(_observation_blocks(rng, ctx), ctx, ids),
        "outcomes": outcomes_table(ctx, ids),
    }
    if dirty:
        tables = add_dirty_rows(rng, tables)
    return {name: tables[name] for name in TABLES}


def simulate_patients(rng: np.random.Generator, n: int) -> Arrays:
    """Draw every patient-level array (attributes, latents, course, day-30 PET, follow-up) into one mapping.

    Args:
        rng: random generator.
        n: number of patients.

    Returns:
        Merged arrays, including ``report_end`` (last relative day a result can be reported: the
        data cut-off) and ``responder`` (day-30 Deauville 1-3, which drives loss to follow-up).
    """
    patients = sample_patients(rng, n)
    history = sample_history(rng, patients)
    course = sample_course(rng, patients, history)
    ctx = {**patients, **history, **course}
    ctx["report_end"] = (DATA_CUTOFF.astype(int) - ctx["infusion_day"]).astype(float)
    ctx.update(sample_day30_pet(rng, ctx))
    ctx["responder"] = ctx["deauville30"] <= 3
    ctx.update(sample_followup(rng, ctx))
    return ctx


def _observation_blocks(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """All observation blocks, with repeats and corrections, restricted to observable days."""
    blocks = []
    for emit in (emit_history, emit_labs, emit_imaging, emit_ctdna, emit_cellular):
        blocks += emit(rng, ctx)
    blocks = add_corrections(rng, add_repeats(rng, blocks))
    return keep_observable(blocks, ctx)
