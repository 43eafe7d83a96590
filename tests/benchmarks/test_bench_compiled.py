"""Smoke test of benchmarks/bench_compiled.py: rows are well formed (no timing asserts)."""

import math

from benchmarks import bench_compiled


def test_quick_run_gives_one_xla_row_per_op():
    rows = bench_compiled.run(quick=True)
    names = [r["benchmark"] for r in rows]
    for op in ("ms_ssim", "depth_smoothness order=1", "depth_smoothness order=2"):
        assert any(n.startswith(op) for n in names), op
    assert any(n.startswith("ColorPropagation full") for n in names)
    assert any(n.startswith("ColorPropagation window_radius") for n in names)
    for r in rows:
        assert r["benchmark"].endswith("XLA vs the same without XLA")
        assert r["kerastricks"] > 0 and r["reference"] > 0 and math.isfinite(r["ratio"])
        assert r["target"] is None and r["verdict"] == ""
