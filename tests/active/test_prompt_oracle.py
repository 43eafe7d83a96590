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


def test_a_journal_keeps_the_answers_of_an_interrupted_query(tmp_path):
    journal = tmp_path / "state" / "answers.jsonl"
    paths, names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], ["cat", "dog"]

    typed = iter(["dog", "cat"])

    def interrupted(prompt):
        answer = next(typed, None)
        if answer is None:
            raise KeyboardInterrupt  # Ctrl-C at the third question
        return answer

    first = kt.active.prompt_oracle(paths, names, input=interrupted, print=lambda line: None)
    with pytest.raises(KeyboardInterrupt):
        kt.active.prompt_oracle(
            paths, names, input=interrupted, print=lambda line: None, journal=journal
        )(np.array([2, 0, 3]))
    assert first.answers() == {}  # no journal, nothing kept
    # The same query again, in a new process: only the unanswered item is asked.
    read, prompts, queue = scripted(["1"])
    again = kt.active.prompt_oracle(
        paths, names, input=read, print=lambda line: None, journal=journal
    )
    assert again([2, 0, 3]).tolist() == [1, 0, 1] and len(prompts) == 1
    assert again.answers() == {2: 1, 0: 0, 3: 1}
    # A line cut by a crash, and answers about other files (another pool), are ignored.
    with open(journal, "a") as file:
        file.write('{"index": 1, "path": "other.jpg", "label": 0}\n{"index": 1, "pa')
    assert again.answers() == {2: 1, 0: 0, 3: 1}
