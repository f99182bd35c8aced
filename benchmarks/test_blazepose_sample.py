"""The sample benchmark's head-rule fits (beside the script: tests/ never imports it)."""

from __future__ import annotations

import numpy as np


def test_benchmark_head_fits_recover_known_rules():
    """The sample benchmark's two head-rule fits find the weights that generated the data."""
    import blazepose_sample as bench

    rng = np.random.default_rng(3)
    parts = rng.normal(0, 30, (40, 4, 2))
    scale = rng.uniform(10, 40, 40)
    truth = np.array([0.1, -0.2, 1.5, -0.4])
    targets = np.einsum("npd,p->nd", parts, truth)
    np.testing.assert_allclose(bench.fit_head_weights(parts, targets, scale), truth, atol=1e-9)
    axis_truth = np.array([0.0, 0.0, 1.75, -0.75])
    targets = np.einsum("npd,p->nd", parts, axis_truth)
    np.testing.assert_allclose(bench.fit_axis_weights(parts, targets, scale), axis_truth, atol=1e-9)
