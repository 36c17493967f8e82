"""Riley et al. (2020) minimum sample size: the formulas and the verdict."""

from __future__ import annotations

import math

import numpy as np

from features.catalogue import load_catalogue
from training.sample_size import SHRINKAGE, candidate_parameters, check_sample_size


def test_criterion_one_is_rileys_formula():
    rng = np.random.default_rng(0)
    time, event = rng.exponential(400, 2000), rng.random(2000) < 0.6
    check = check_sample_size(parameters=40, time=time, event=event, horizon=365)
    expected = math.ceil(40 / ((SHRINKAGE - 1) * math.log(1 - check.anticipated_r2_cs / SHRINKAGE)))
    assert check.required_shrinkage == expected
    assert 0 < check.anticipated_r2_cs < check.max_r2_cs < 1


def test_more_parameters_need_more_patients_and_small_registries_are_flagged():
    rng = np.random.default_rng(1)
    time, event = rng.exponential(400, 300), rng.random(300) < 0.6
    few = check_sample_size(parameters=5, time=time, event=event, horizon=365)
    many = check_sample_size(parameters=70, time=time, event=event, horizon=365)
    assert many.required > few.required
    assert not many.adequate and "TOO SMALL" in many.summary()


def test_categories_count_one_parameter_per_extra_level():
    specs = load_catalogue().feature_specs("preinfusion")
    product = next(s for s in specs if s.name == "product")
    assert candidate_parameters([product]) == 2
    assert candidate_parameters(specs) > len(specs)
