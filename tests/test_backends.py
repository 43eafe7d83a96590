"""`import kerastricks` and its Keras objects need no TensorFlow under another backend.

Runs a fresh interpreter under `KERAS_BACKEND=jax` in which `import tensorflow` fails, so
the check holds whether or not TensorFlow is installed next to JAX (it is, in CI).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

SCRIPT = """
import sys
from pathlib import Path
sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
import kerastricks as kt
for name in ("layers", "losses", "metrics", "optimizers", "callbacks", "models", "active",
             "transfer", "tracking", "geometry", "datasets", "recipe_utils"):
    getattr(kt, name)
import keras, numpy as np
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.compile(kt.optimizers.LearningRateMultiplier("sgd", {"dense": 0.5}), "mse")
model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0,
          callbacks=[kt.callbacks.TrainingDoctor(every=1, verbose=0)])
try:
    kt.distribute
except ModuleNotFoundError as error:
    print("distribute:", error)
print("backend:", keras.backend.backend())
"""


def test_import_and_fit_without_tensorflow_under_jax():
    pytest.importorskip("jax", reason="JAX is installed in CI's JAX leg (.ci/run)")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "backend: jax" in result.stdout
    assert "kt.distribute is built on TensorFlow" in result.stdout


def test_the_backend_page_names_the_files_ci_runs_under_jax():
    """docs/backends.md says "CI" under JAX exactly for the files marked for the JAX leg."""
    root = Path(__file__).resolve().parent.parent
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in (root / "docs" / "backends.md").read_text().splitlines()
        if line.startswith("| `") or line.startswith("| losses") or line.startswith("| `import")
    ]
    assert len(rows) > 30
    listed = set()
    for _, tests, _, jax, _ in rows:
        path = root / tests.strip("`")
        marked = "pytestmark = pytest.mark.backend_independent" in path.read_text()
        assert marked == (jax == "CI"), f"{path.name}: JAX column {jax!r}, marked={marked}"
        listed.add(path)
    # Every marked file has a row.
    for path in (root / "tests").rglob("test_*.py"):
        if "pytestmark = pytest.mark.backend_independent" in path.read_text():
            assert path in listed, f"{path} runs under JAX but docs/backends.md omits it"
