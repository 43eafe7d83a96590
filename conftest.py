"""Test-session setup shared by `tests/` and the docstring examples in `kerastricks/`.

Splits the CPU into two logical devices before TensorFlow initialises, so that tests can
run `MirroredStrategy` with two replicas on a laptop, and quiets TensorFlow's start-up log.
Under another backend (`KERAS_BACKEND=jax`, the CI leg that runs the tests marked
`backend_independent`) TensorFlow is not imported here.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tensorflow as tf

    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )

# The longest tests (minutes each: subprocesses, whole quick recipes) first, so that
# `pytest -n 2` does not end with one worker idle while the other finishes one of them.
# With pytest-xdist's default chunks (a quarter of each worker's share, consecutive tests)
# the first worker got *all* of them and the other sat idle for the last ~5 minutes of a
# 1,061 s run; pyproject.toml's `--maxschedchunk 1` hands them out one at a time.
LONGEST_FIRST = (
    "tests/testing/test_composition_matrix.py",
    "tests/recipes/test_vid2depth.py",
    "tests/benchmarks/test_bench_vid2depth.py",
    "tests/distribute/test_multi_worker.py",
    "tests/recipes/",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        prefixes = [i for i, p in enumerate(LONGEST_FIRST) if item.nodeid.startswith(p)]
        return prefixes[0] if prefixes else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the usual order within each group


@pytest.fixture(autouse=True)
def float32_policy_after_each_test():
    """Each test ends with Keras's default float32 policy: a recipe run with
    `--mixed-precision` sets `mixed_float16` globally, and the tests that pytest-xdist
    gave the same worker after it would otherwise build their layers in float16."""
    yield
    import keras  # here: imported at the top, it could initialise TensorFlow's devices

    keras.config.set_dtype_policy("float32")
