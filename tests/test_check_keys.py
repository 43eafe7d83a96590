import pytest

from kerastricks._checks import check_choice, check_keys, check_same_shape, fail, shorten


def test_check_keys_lists_missing_and_unknown():
    assert check_keys("loss", {"a": 1, "b": 2}, ["b", "a"]) == {"a": 1, "b": 2}
    message = (
        r"The keys of `loss` \(one per output\) must be exactly \['a', 'b'\]; "
        r"missing: \['b'\], unknown: \['c'\]. Received: loss.keys\(\)=\['a', 'c'\]"
    )
    with pytest.raises(ValueError, match=message):
        check_keys("loss", {"a": 1, "c": 3}, ["a", "b"], "one per output")


def test_long_lists_in_messages_are_cut_with_a_count_of_the_rest():
    expected = [f"batch_normalization_{i}" for i in range(52)]
    with pytest.raises(ValueError) as info:
        check_keys("losses", {"x": 1}, expected)
    message = str(info.value)
    # 8 names shown of 52: "... and 44 more"; the same for the missing ones and the received.
    assert "'batch_normalization_0', 'batch_normalization_1'" in message
    assert message.count("and 44 more") == 2
    assert "batch_normalization_51" not in message
    assert len(message) < 1000  # the full list alone would be 52 * 26 = 1352 characters


def test_shorten_keeps_short_values_and_cuts_long_ones():
    assert shorten([1, 2, 3]) == "[1, 2, 3]"
    assert shorten(tuple(range(10))) == "(0, 1, 2, 3, 4, 5, 6, 7, ... and 2 more)"
    assert shorten({f"k{i}": i for i in range(9)}).endswith("'k7': 7, ... and 1 more}")
    long_text = "x" * 1000
    assert shorten(long_text) == repr(long_text)[:300] + "... (1002 characters)"
    with pytest.raises(ValueError, match=r"Received: value=\[0, 1, .* and 92 more\]$"):
        fail("Too long.", "value", list(range(100)))


def test_check_choice_lists_long_choices_shortened():
    with pytest.raises(ValueError, match=r"one of 'c0', 'c1', .*'c7', ... and 12 more\."):
        check_choice("pick", "x", [f"c{i}" for i in range(20)])


def test_doctor_findings_shorten_long_evidence():
    from kerastricks.callbacks._doctor_rules import Finding

    names = [f"bn_{i}" for i in range(52)]
    text = str(Finding("batchnorm_not_updating", "stuck.", {"layers": names}, "fix it", 3))
    assert "layers=['bn_0', 'bn_1'" in text and "and 44 more" in text and "bn_51" not in text


def test_shorten_leaves_tensors_and_arrays_to_their_repr():
    import keras
    import numpy as np

    symbolic = keras.KerasTensor((None, 3))  # iterating it raises: never listed
    assert shorten(symbolic) == repr(symbolic)
    assert shorten(np.arange(3)) == "array([0, 1, 2])"
    assert shorten(iter(range(10))) == "[0, 1, 2, 3, 4, 5, 6, 7, ... and 2 more]"


def test_check_same_shape_matches_unknown_sizes_and_names_both_shapes():
    assert check_same_shape("mask", (None, 4, 6), "errors", (2, 4, None)) == (None, 4, 6)
    message = (
        r"`mask` must have the shape of `errors` \(2, 4, 6\), or that shape with a last "
        r"axis of 1. Received: mask.shape=\(2, 4, 5\)"
    )
    with pytest.raises(ValueError, match=message):
        check_same_shape(
            "mask", (2, 4, 5), "errors", (2, 4, 6), ", or that shape with a last axis of 1"
        )
    with pytest.raises(ValueError, match="Received: mask.shape=\\(2, 4\\)"):
        check_same_shape("mask", (2, 4), "errors", (2, 4, None))  # another rank
