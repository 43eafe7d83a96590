"""Code blocks of docs/ marked `<!-- tested: NAME -->` run as they are."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
MARKED = re.compile(r"<!-- tested: ([\w-]+) -->\s*```python\n(.*?)```", re.S)
BLOCKS = [
    pytest.param(code, id=f"{page.stem}:{name}")
    for page in sorted(DOCS.glob("*.md"))
    for name, code in MARKED.findall(page.read_text())
]


def test_some_blocks_are_marked():
    assert any("transfer_learning:transfer-resume" in block.id for block in BLOCKS)


@pytest.mark.parametrize("code", BLOCKS)
def test_marked_block_runs(code):
    namespace = {"__name__": "docs_example"}
    exec(compile(code, "docs", "exec"), namespace)  # noqa: S102 - our own docs
