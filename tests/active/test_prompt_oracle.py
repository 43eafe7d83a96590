"""kt.active.prompt_oracle: one question per queried item, re-asked until it is a label."""

import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def scripted(answers):
    """An `input` replacement that records its prompts and answers from a list."""
    prompts, queue = [], list(answers)

    def read(prompt):
        prompts.append(prompt)
        return queue.pop(0)

    return read, prompts, queue


def test_names_and_numbers_are_labels_and_bad_answers_are_asked_again():
    read, prompts, queue = scripted(["dog", " 0 ", "cow", "-1", "3", "bird", "2"])
    shown = []
    oracle = kt.active.prompt_oracle(
        ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], ["cat", "dog", "bird"], input=read, print=shown.append
    )
    labels = oracle(np.array([3, 0, 2]))
    # dog -> 1; " 0 " -> 0 (spaces ignored); cow, -1 and 3 are not labels; bird -> 2.
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0, 2]
    assert queue == ["2"]  # nothing read beyond the three answers
    files = [line for line in shown if line.startswith("[")]
    assert files == ["[1/3] d.jpg", "[2/3] a.jpg", "[3/3] c.jpg"]
    assert sum("unknown label" in line for line in shown) == 3
    assert len(prompts) == 6 and all("0 cat, 1 dog, 2 bird" in p for p in prompts)


def test_reads_standard_input_by_default(monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("b\nx\na\n"))
    oracle = kt.active.prompt_oracle(["p.png", "q.png"], ["a", "b"])
    assert oracle([1, 0]).tolist() == [1, 0]
    out = capsys.readouterr().out
    assert "[1/2] q.png" in out and "[2/2] p.png" in out and "unknown label 'x'" in out


@pytest.mark.parametrize("names", [["only"], ["a", "a"]])
def test_class_names_must_be_two_distinct(names):
    with pytest.raises(ValueError, match=r"at least two distinct names.*Received: class_names="):
        kt.active.prompt_oracle(["x.png"], names)
