"""Runs every benchmark in `benchmarks/bench_*.py` in one process and prints one table.

    python benchmarks/run.py            # full sizes
    python benchmarks/run.py --quick    # tiny sizes, to check that everything runs
    python benchmarks/run.py --json results.json
    python benchmarks/run.py --markdown table.md   # the README's table

Columns: benchmark, kerastricks time, reference time measured in the same run, ratio,
target, verdict. Times are medians of repeated runs after warm-up (benchmarks/_timing.py).
"""

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._timing import markdown_rows, print_rows  # noqa: E402


def modules():
    """The names of the benchmark modules, in file-name order."""
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write a Markdown table")
    parser.add_argument("--only", nargs="*", help="module names to run (default: all)")
    args = parser.parse_args(argv)
    rows, started = [], time.perf_counter()
    for name in args.only or modules():
        module = importlib.import_module(f"benchmarks.{name}")
        begin = time.perf_counter()
        module_rows = module.run(quick=args.quick)
        for row in module_rows:
            row["module"] = name
        rows += module_rows
        print(f"[{name}: {time.perf_counter() - begin:.0f} s]", file=sys.stderr)
    print_rows(rows)
    elapsed = time.perf_counter() - started
    print(
        f"\n{len(rows)} rows in {elapsed:.0f} s on {platform.machine()}, "
        f"{platform.python_version()}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"elapsed_s": elapsed, "rows": rows}, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(markdown_rows(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
