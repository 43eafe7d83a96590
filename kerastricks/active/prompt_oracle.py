"""An oracle that is a person at the terminal: one image path at a time, a label typed back."""

import builtins
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kerastricks._checks import check_type, fail

__all__ = ["prompt_oracle"]


def prompt_oracle(paths, class_names, input=None, print=None, journal=None) -> Callable:
    """An `ActiveLearner` oracle that asks a person for each label in the terminal.

    For each pool index of a query, in turn, it shows the file (`paths[index]`) and the
    labels to choose from (`0 cat  1 dog ...`), and reads one answer: a class name or its
    number. Anything else (an unknown name, a number out of range, an empty line) is
    answered with a one-line hint and asked again. The learner stores the query's
    labels once all of them are answered.

    With a `journal` file, each answer is also appended to it as it is typed (one JSON
    line `{"index", "path", "label"}`, flushed and `fsync`ed before the next question),
    and an item already in the journal (same index, same path) is not asked again: a
    query interrupted half-way (Ctrl-C, a crash) loses none of the answers typed. The
    learner records the indices of a call cut short by a crash as lost; `oracle.answers()`
    gives their labels back for `ActiveLearner.teach`.

    Args:
        paths: the file of each pool item, indexed like the pool (strings or paths).
        class_names: the label names; an answer's label is its position here.
        input: the function that reads one line, given a prompt. Defaults to `None`:
            Python's `input` (the terminal, or whatever `sys.stdin` is).
        print: the function that shows a line. Defaults to `None`: Python's `print`.
        journal: a file that keeps every answer as it is typed, or `None`. Defaults to
            `None`.

    Returns:
        A callable mapping an int64 array of pool indices to their int64 labels; its
        `answers()` returns the journal's `{index: label}` (`{}` without a journal).

    Raises:
        ValueError: fewer than two class names, or duplicates.

    Example:

    >>> import kerastricks as kt
    >>> answers = iter(["bird", "1"])
    >>> oracle = kt.active.prompt_oracle(
    ...     ["a.jpg", "b.jpg"], ["cat", "dog"], input=lambda prompt: next(answers))
    >>> oracle([1])
    [1/1] b.jpg
    unknown label 'bird': type one of 0 cat, 1 dog (a name or its number)
    array([1])
    """
    names = [str(name) for name in class_names]
    check_type("paths", paths, (list, tuple), "a list of file paths")
    if len(names) < 2 or len(set(names)) != len(names):
        fail("`class_names` must hold at least two distinct names.", "class_names", names)
    choices = ", ".join(f"{i} {name}" for i, name in enumerate(names))

    def ask(index, position, total):
        read = input or builtins.input
        show = print or builtins.print
        show(f"[{position}/{total}] {paths[index]}")
        while True:
            answer = read(f"label ({choices}): ").strip()
            if answer in names:
                return names.index(answer)
            if answer.isdigit() and int(answer) < len(names):
                return int(answer)
            show(f"unknown label {answer!r}: type one of {choices} (a name or its number)")

    def answers():
        """The journal's `{index: label}`, for this pool (a torn last line is skipped)."""
        if journal is None or not Path(journal).is_file():
            return {}
        known = {}
        for line in Path(journal).read_text().splitlines():
            try:
                entry = json.loads(line)
                index, label = int(entry["index"]), int(entry["label"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash
            if 0 <= index < len(paths) and entry.get("path") == str(paths[index]):
                if 0 <= label < len(names):
                    known[index] = label
        return known

    def keep(index, label):
        record = json.dumps({"index": index, "path": str(paths[index]), "label": label})
        Path(journal).parent.mkdir(parents=True, exist_ok=True)
        with open(journal, "a") as file:
            file.write(record + "\n")
            file.flush()
            os.fsync(file.fileno())

    def oracle(indices):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        total, known = len(indices), answers()
        labels = []
        for n, i in enumerate(indices, 1):
            if int(i) in known:  # answered before an interruption: not asked again
                labels.append(known[int(i)])
                continue
            labels.append(ask(int(i), n, total))
            if journal is not None:
                keep(int(i), labels[-1])
        return np.asarray(labels, dtype=np.int64)

    oracle.answers = answers
    return oracle
