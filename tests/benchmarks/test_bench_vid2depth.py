import math

from benchmarks import bench_vid2depth


def test_quick_run_gives_well_formed_rows():
    rows = bench_vid2depth.run(quick=True)
    assert [r["unit"] for r in rows] == ["s", "s", "frames/s", "s"]
    for r in rows:
        assert set(r) >= {"benchmark", "kerastricks", "reference", "ratio", "target", "note"}
        assert r["kerastricks"] > 0 and r["reference"] > 0 and math.isfinite(r["ratio"])
    # Throughput is frames over step time: the two ratios are reciprocal.
    assert math.isclose(rows[1]["ratio"] * rows[2]["ratio"], 1.0, rel_tol=1e-9)
