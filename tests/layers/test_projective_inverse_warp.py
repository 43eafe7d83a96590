import numpy as np
import pytest

import kerastricks as kt
from tests.geometry import numpy_warp
from tests.helpers import run_layer_test

pytestmark = pytest.mark.backend_independent


def _inputs(seed=0, batch=2, height=6, width=9):
    rng = np.random.default_rng(seed)
    image = rng.random((batch, height, width, 3)).astype("float32")
    depth = rng.uniform(2.0, 6.0, (batch, height, width, 1)).astype("float32")
    pose = rng.normal(0.0, [0.2, 0.1, 0.2, 0.03, 0.03, 0.03], (batch, 6)).astype("float32")
    k = np.array([[8.0, 0.0, 4.0], [0.0, 8.0, 2.5], [0.0, 0.0, 1.0]], "float32")
    return [image, depth, pose, np.tile(k[None], (batch, 1, 1))]


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
def test_layer_contract_and_values():
    inputs = _inputs()
    # Expected: the float64 pixel-by-pixel NumPy warp of tests/geometry/numpy_warp.py.
    expected = [numpy_warp.warp(i, d[..., 0], p, k) for i, d, p, k in zip(*inputs, strict=True)]
    warped = np.stack([e[0] for e in expected]).astype("float32")
    mask = np.stack([e[1] for e in expected])[..., None].astype("float32")
    run_layer_test(kt.layers.ProjectiveInverseWarp, {}, inputs, [warped, mask], atol=2e-4, rtol=0)


def test_pose_matrices_and_compute_output_shape():
    image, depth, pose, k = _inputs(1)
    matrices = np.stack([numpy_warp.pose_matrix(p) for p in pose]).astype("float32")
    layer = kt.layers.ProjectiveInverseWarp()
    a = layer([image, depth, pose, k])
    b = layer([image, depth, matrices, k])
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    shapes = layer.compute_output_shape([(None, 6, 9, 3), (None, 6, 9, 1), (None, 6), (None, 3, 3)])
    assert shapes == [(None, 6, 9, 3), (None, 6, 9, 1)]


def test_bad_inputs_raise():
    layer = kt.layers.ProjectiveInverseWarp()
    with pytest.raises(ValueError, match="`inputs` must be \\[source_image, target_depth, pose"):
        layer(_inputs()[:3])
    with pytest.raises(TypeError, match="`inputs` must be a list"):
        layer(_inputs()[0])
