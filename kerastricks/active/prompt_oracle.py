"""An oracle that is a person at the terminal: one image path at a time, a label typed back."""

import builtins
from collections.abc import Callable

import numpy as np

from kerastricks._checks import check_type, fail

__all__ = ["prompt_oracle"]


def prompt_oracle(paths, class_names, input=None, print=None) -> Callable:
    """An `ActiveLearner` oracle that asks a person for each label in the terminal.

    For each pool index of a query, in turn, it shows the file (`paths[index]`) and the
    labels to choose from (`0 cat  1 dog ...`), and reads one answer: a class name or its
    number. Anything else (an unknown name, a number out of range, an empty line) is
    answered with a one-line hint and asked again. The learner stores the query's
    labels once all of them are answered (crash-safe as for any oracle: a query
    interrupted half-way is journaled and never asked again).

    Args:
        paths: the file of each pool item, indexed like the pool (strings or paths).
        class_names: the label names; an answer's label is its position here.
        input: the function that reads one line, given a prompt. Defaults to `None`:
            Python's `input` (the terminal, or whatever `sys.stdin` is).
        print: the function that shows a line. Defaults to `None`: Python's `print`.

    Returns:
        A callable mapping an int64 array of pool indices to their int64 labels.

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

    def oracle(indices):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        total = len(indices)
        labels = [ask(int(i), n, total) for n, i in enumerate(indices, 1)]
        return np.asarray(labels, dtype=np.int64)

    return oracle
