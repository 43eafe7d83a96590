import math

import numpy as np
import pytest

from benchmarks import bench_cost_curves

KEYS = {"benchmark", "kerastricks", "reference", "ratio", "target", "verdict", "unit", "note"}


def test_fit_exponent_recovers_a_power_law():
    sizes = np.array([1000.0, 2000.0, 4000.0, 8000.0])
    # Expected: t = 3e-6 * n^1.5 has exponent 1.5 exactly (closed form).
    assert bench_cost_curves.fit_exponent(sizes, 3e-6 * sizes**1.5) == pytest.approx(1.5)


def test_quick_run_gives_one_well_formed_row_per_op():
    rows = bench_cost_curves.run(quick=True)
    names = [r["benchmark"] for r in rows]
    assert [n.split()[0] for n in names] == ["ssim", "projective_inverse_warp", "icp"]
    for r in rows:
        assert set(r) == KEYS
        assert math.isfinite(r["kerastricks"]) and math.isfinite(r["reference"])
        assert r["ratio"] == r["kerastricks"]  # exponent rows: the ratio column is ours
