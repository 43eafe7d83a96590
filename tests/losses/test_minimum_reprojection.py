import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt


def _reference(errors, mask, identity):
    """Per sample: mean over the kept pixels of the minimum over the valid sources."""
    out = []
    for b in range(errors.shape[0]):
        kept = []
        for i in range(errors.shape[2]):
            for j in range(errors.shape[3]):
                valid = [e for e, m in zip(errors[b, :, i, j], mask[b, :, i, j]) if m > 0]
                if not valid:
                    continue
                if identity is not None and not min(valid) < identity[b, :, i, j].min():
                    continue
                kept.append(min(valid))
        out.append(np.mean(kept) if kept else 0.0)
    return np.array(out)


@pytest.mark.parametrize("use_identity", [False, True])
def test_matches_the_numpy_formula(use_identity):
    rng = np.random.default_rng(0)
    errors = rng.random((3, 2, 4, 5)).astype("float32")
    mask = (rng.random((3, 2, 4, 5)) > 0.3).astype("float32")
    mask[2] = 0.0  # a sample with no valid pixel: 0, not NaN
    identity = rng.random((3, 2, 4, 5)).astype("float32") if use_identity else None
    expected = _reference(errors, mask, identity)
    got = kt.losses.minimum_reprojection(errors, mask, identity)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    got = kt.losses.minimum_reprojection(errors, mask[..., None], identity)  # [B, S, H, W, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_without_mask_all_pixels_count():
    errors = np.random.default_rng(1).random((2, 3, 4, 4)).astype("float32")
    expected = errors.min(axis=1).mean(axis=(1, 2))  # Expected: the plain per-pixel minimum
    np.testing.assert_allclose(kt.losses.minimum_reprojection(errors), expected, rtol=1e-6)


def test_gradient_reaches_only_the_chosen_source():
    errors = tf.Variable([[[[0.1, 0.5]], [[0.3, 0.2]]]])  # B=1, S=2, H=1, W=2
    mask = tf.constant([[[[1.0, 1.0]], [[1.0, 0.0]]]])  # source 1 invalid at pixel 2
    with tf.GradientTape() as tape:
        loss = kt.losses.minimum_reprojection(errors, mask)
    # Expected: mean(0.1, 0.5) = 0.3; each chosen error gets gradient 1/2, the rest 0.
    np.testing.assert_allclose(loss, [0.3], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(loss, errors), [[[[0.5, 0.5]], [[0.0, 0.0]]]])


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="errors"):
        kt.losses.minimum_reprojection(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="`mask` must have the shape of `errors`"):
        kt.losses.minimum_reprojection(np.zeros((1, 2, 3, 3)), np.ones((1, 3, 3, 3)))
