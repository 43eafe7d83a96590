"""The public surface: what users import, how it is registered and documented.

Run `python tests/test_public_api.py --update` after adding a public name on purpose.
Removing a released name fails `test_api_surface_matches` (it breaks users' code).
"""

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    # As a script, sys.path[0] is tests/: import this checkout's kerastricks, not an
    # installed one (an editable install of another worktree would write its names).
    sys.path.insert(0, str(ROOT))

import kerastricks as kt  # noqa: E402

SURFACE = Path(__file__).with_name("api_surface.json")
FORBIDDEN = re.compile(r"^\s*(from|import)\s+(keras\.src|tensorflow\.python)\b|tf\.compat\.v1")


def public_objects():
    """Yields `(dotted_name, object)` for every name in the subpackages' `__all__`."""
    for sub in kt.__all__:
        module = getattr(kt, sub)
        if not inspect.ismodule(module):
            continue
        for name in module.__all__:
            yield f"kerastricks.{sub}.{name}", getattr(module, name)


def test_api_surface_matches():
    current = sorted(name for name, _ in public_objects())
    recorded = json.loads(SURFACE.read_text())
    removed = sorted(set(recorded) - set(current))
    added = sorted(set(current) - set(recorded))
    assert not removed, f"public names removed: {removed}"
    assert not added, f"new public names {added}: run `python tests/test_public_api.py --update`"


def test_no_framework_internals_in_source():
    offenders = []
    for folder in ("kerastricks", "recipes", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "framework internals used:\n" + "\n".join(offenders)


def framework_private_names() -> set:
    """Private attribute names of fresh Keras objects of every kind kerastricks subclasses."""
    objects = [
        keras.layers.Layer(),
        keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]),
        keras.optimizers.SGD(),
        keras.callbacks.Callback(),
        keras.losses.MeanSquaredError(),
        keras.metrics.Mean(),
        keras.Input((1,)),  # a symbolic tensor: `_keras_history` and the like
    ]
    return {n for o in objects for n in dir(o) if n.startswith("_") and not n.startswith("__")}


def private_accesses(source: str, framework_private: set) -> list:
    """`(line, text)` of each private-attribute access a framework object may be behind.

    Flagged: `x._name` on anything but `self`/`cls`; `self._name` where `_name` is an
    attribute of a Keras base object (overriding or reading Keras internals through a
    subclass); `getattr`/`hasattr`/`setattr`/`delattr` with a private name as a string.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not own or node.attr in framework_private:
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_private_access_scan_catches_what_it_should():
    private = {"_variables", "_trainable_variables"}
    caught = private_accesses(
        "inner._get_variable_index(v)\n"
        "self._variables + x\n"
        "getattr(t, '_keras_history', None)\n"
        "self._mine = 1\n"
        "t.__class__\n",
        private,
    )
    assert sorted(line for line, _ in caught) == [1, 2, 3]


def private_access_offenders(folders, framework_only: bool) -> list:
    """`path:line: text` of each private access in the `.py` files under `folders`;
    `framework_only`: only accesses that name a private attribute of a Keras object."""
    framework_private = framework_private_names()
    offenders = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, text in private_accesses(path.read_text(), framework_private):
                if not framework_only or any(name in text for name in framework_private):
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    return offenders


def test_no_private_framework_access_in_source():
    offenders = private_access_offenders(("kerastricks", "recipes", "benchmarks"), False)
    assert not offenders, "private attributes accessed:\n" + "\n".join(offenders)


def test_no_private_framework_access_in_tests():
    # The tests may call kerastricks's own private helpers; not Keras's or TensorFlow's.
    offenders = private_access_offenders(("tests",), framework_only=True)
    assert not offenders, "private framework attributes accessed:\n" + "\n".join(offenders)


def test_every_keras_object_is_registered():
    kinds = (
        keras.layers.Layer,
        keras.losses.Loss,
        keras.optimizers.Optimizer,
        keras.callbacks.Callback,
        keras.metrics.Metric,
    )
    for name, obj in public_objects():
        if (
            inspect.isclass(obj)
            and issubclass(obj, kinds)
            and not issubclass(obj, keras.callbacks.Callback)
        ):
            registered = keras.saving.get_registered_name(obj)
            assert registered == f"kerastricks>{obj.__name__}", (name, registered)


def test_every_public_object_documents_an_example():
    missing = []
    for name, obj in public_objects():
        if inspect.ismodule(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        if "Example" not in doc or ">>>" not in doc:
            missing.append(name)
    assert not missing, f"public objects without a runnable `Example:` docstring: {missing}"


# Deprecated public names (kept for one release, see docs/migration.md) and their
# replacements; each old name warns with a `DeprecationWarning` naming the new one (tested
# beside the replacement).
DEPRECATED = {
    "kerastricks.losses.ssim": "kerastricks.metrics.ssim",
    "kerastricks.losses.SSIM": "kerastricks.losses.SSIMLoss",
    "kerastricks.losses.ms_ssim": "kerastricks.metrics.ms_ssim",
    "kerastricks.tracking.region_similarity": "kerastricks.metrics.region_similarity",
}


def test_deprecated_names_stay_public_and_wrap_their_replacement():
    objects = dict(public_objects())
    for old, new in DEPRECATED.items():
        assert old in objects and new in objects, (old, new)
        assert objects[old].__wrapped__ is objects[new], old
        assert f"Deprecated alias of `{new.replace('kerastricks', 'kt')}`" in objects[old].__doc__
    aliases = sorted(n for n, o in objects.items() if getattr(o, "__wrapped__", None) is not None)
    assert aliases == sorted(DEPRECATED), "list each deprecated alias in DEPRECATED"
    text = (ROOT / "docs" / "migration.md").read_text()
    for old in DEPRECATED:
        assert f"`{old.replace('kerastricks', 'kt')}`" in text, f"{old} not in docs/migration.md"


if __name__ == "__main__" and "--update" in sys.argv:
    SURFACE.write_text(json.dumps(sorted(n for n, _ in public_objects()), indent=1) + "\n")
    print(f"wrote {SURFACE}")


def test_import_after_keras_registers_every_object_for_load_model(tmp_path):
    # A user's script: `import keras`, `import kerastricks`, then load a saved model that
    # uses a kerastricks object, touching no `kt.` attribute first (a fresh process).
    path = tmp_path / "model.keras"
    model = keras.Sequential([keras.Input((2,)), kt.layers.MCDropout(0.1), keras.layers.Dense(1)])
    model.compile(kt.optimizers.LearningRateMultiplier("sgd"), "mse")
    model.save(path)
    script = (
        "import keras\nimport kerastricks\n"
        f"model = keras.saving.load_model({str(path)!r}, safe_mode=True)\n"
        "print(type(model.optimizer).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("LearningRateMultiplier")
