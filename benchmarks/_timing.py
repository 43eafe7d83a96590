"""Timing shared by the benchmarks: the median of repeated runs, after warm-up.

Every benchmark module `benchmarks/bench_*.py` exposes `run(quick: bool = False) -> list`
of rows made by `row(...)`, and prints them with `print_rows` when run as a script.
`benchmarks/run.py` collects all of them into one table.
"""

import statistics
import time

__all__ = ["median_seconds", "print_rows", "row"]


def median_seconds(fn, repeats: int = 7, warmup: int = 2) -> float:
    """Calls `fn()` `warmup` times, then returns the median wall time of `repeats` calls.

    `fn` must block until its work is done (return NumPy, or call `.numpy()`).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(benchmark: str, ours: float, reference: float, target=None, unit="s", note=""):
    """One result: our time, the reference's time in the same run, their ratio, the target."""
    ratio = ours / reference if reference else float("nan")
    verdict = "" if target is None else ("pass" if ratio <= target else "FAIL")
    return {
        "benchmark": benchmark,
        "kerastricks": ours,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "verdict": verdict,
        "unit": unit,
        "note": note,
    }


def print_rows(rows) -> None:
    """Prints rows as a fixed-width table."""
    print(f"{'benchmark':58s} {'ours':>10s} {'reference':>10s} {'ratio':>7s} {'target':>7s}")
    for r in rows:
        target = "" if r["target"] is None else f"{r['target']:.2f}"
        print(
            f"{r['benchmark']:58s} {r['kerastricks']:10.4g} {r['reference']:10.4g} "
            f"{r['ratio']:7.3f} {target:>7s} {r['verdict']} {r['note']}"
        )


def markdown_rows(rows) -> str:
    """The same table in Markdown (for the README)."""
    lines = [
        "| benchmark | kerastricks | reference | ratio | target | verdict | note |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        target = "" if r["target"] is None else f"{r['target']:.2f}"
        note = r["note"].replace("|", "\\|")  # a bare | would end the table cell
        lines.append(
            f"| {r['benchmark']} | {r['kerastricks']:.4g} {r['unit']} | "
            f"{r['reference']:.4g} {r['unit']} | {r['ratio']:.3f} | {target} | "
            f"{r['verdict']} | {note} |"
        )
    return "\n".join(lines)
