"""The benchmark table helpers: verdicts and the README's Markdown table."""

from benchmarks._timing import markdown_rows, row


def test_verdict_compares_the_ratio_with_the_target():
    assert row("fast", 1.0, 2.0, target=0.8)["verdict"] == "pass"  # ratio 0.5
    assert row("slow", 3.0, 2.0, target=1.2)["verdict"] == "FAIL"  # ratio 1.5
    assert row("no target", 3.0, 2.0)["verdict"] == ""
    assert row("fast", 1.0, 2.0)["ratio"] == 0.5


def test_markdown_table_has_one_line_per_row_and_seven_cells():
    rows = [row("a", 1.0, 2.0, target=0.8, note="x"), row("b", 30.0, 10.0, unit="frames/s")]
    lines = markdown_rows(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert all(line.count("|") == 8 for line in lines)
    assert lines[2] == "| a | 1 s | 2 s | 0.500 | 0.80 | pass | x |"
    assert lines[3] == "| b | 30 frames/s | 10 frames/s | 3.000 |  |  |  |"


def test_markdown_escapes_bars_in_notes():
    # A note such as "max |diff|" must stay in its cell: 8 unescaped bars per line.
    line = markdown_rows([row("a", 1.0, 2.0, note="max |diff| 1e-4")]).splitlines()[2]
    assert line.endswith("| max \\|diff\\| 1e-4 |")
    assert line.replace("\\|", "").count("|") == 8
