"""A recipe's report: `metrics.json` and `report.md`, with its tables in Markdown.

Part of `kt.recipe_utils` (import these from there).
"""

import json
import math
import numbers
from pathlib import Path

from kerastricks._recipe_tensorboard import images_to_tensorboard

__all__ = ["markdown_table", "write_report"]


def markdown_table(columns: list, rows: list, digits: int = 4) -> str:
    """Formats rows (lists, or dicts keyed by column) as a Markdown table.

    A `None` (a value that could not be measured, `null` in `metrics.json`) shows as "–".

    Args:
        columns: the column headers.
        rows: one list of values, or one dict keyed by `columns`, per row.
        digits: significant digits for floats. Defaults to 4.

    Returns:
        The table as a string, one line per row.

    Example:

    >>> import kerastricks as kt
    >>> print(kt.recipe_utils.markdown_table(["mode", "acc"], [["frozen", 0.91234]]))
    | mode | acc |
    | --- | --- |
    | frozen | 0.9123 |
    """

    def cell(value):
        if value is None:
            return "–"
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for row in rows:
        values = [row[c] for c in columns] if isinstance(row, dict) else list(row)
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)


def write_report(
    output, title: str, metrics: dict, sections: dict, images=(), tensorboard=None
) -> Path:
    """Writes `metrics.json` and `report.md` into `output`; returns the report's path.

    Args:
        output: the output folder.
        title: the report's heading.
        metrics: JSON-able results, written to `metrics.json`; a float that is not
            finite (NaN, infinity: not JSON) is written as `null`.
        sections: `{heading: markdown text}`, written in order.
        images: file names (relative to `output`) of PNGs to show at the end.
        tensorboard: a TensorBoard log folder (the recipe's `--tensorboard`): the
            `images` are also written there, into `report/`, as image summaries named by
            their file stems. Defaults to `None`.

    Returns:
        The path of `report.md`.

    Example:

    >>> import tempfile
    >>> import kerastricks as kt
    >>> path = kt.recipe_utils.write_report(tempfile.mkdtemp(), "Demo", {"acc": 0.5},
    ...                                     {"Results": "all good"})
    >>> path.name
    'report.md'
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite_or_null(metrics), indent=2, default=float, allow_nan=False)
    (output / "metrics.json").write_text(text + "\n")
    parts = [f"# {title}", ""]
    for heading, text in sections.items():
        parts += [f"## {heading}", "", text.strip(), ""]
    for image in images:
        parts += [f"![{Path(image).stem}]({image})", ""]
    report = output / "report.md"
    report.write_text("\n".join(parts))
    if tensorboard is not None and images:
        images_to_tensorboard(tensorboard, output, images)
    return report


def _finite_or_null(value):
    """`value` with each non-finite float (also NumPy's) in its dicts and lists as `None`."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
