"""The public surface: what users import, how it is registered and documented.

Run `python tests/test_public_api.py --update` after adding a public name on purpose.
Removing a released name fails `test_api_surface_matches` (it breaks users' code).
"""

import inspect
import json
import re
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
