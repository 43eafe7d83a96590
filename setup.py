"""Install kerastricks: `pip install -e ".[test]"` from the repository root."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
version = {}
exec((ROOT / "kerastricks" / "version.py").read_text(), version)

setup(
    name="kerastricks",
    version=version["__version__"],
    description=(
        "Keras 3 layers, losses, optimizer wrappers and callbacks for learning from small data "
        "and from no labels."
    ),
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # Apache 2.0, as Keras and TensorFlow, whose users this library serves. The project has
    # no public address yet: no project URLs until it has one.
    license="Apache-2.0",
    license_files=["LICENSE"],
    # The recipes stay readable at the top-level `recipes/` and ship in the wheel as the
    # `kerastricks.recipes` package (package_dir maps it onto that folder), where the
    # `kerastricks` command finds them. A package rather than package data: setuptools
    # package data must sit inside a package folder, and data_files land outside
    # site-packages where nothing can find them reliably.
    packages=[*find_packages(include=["kerastricks", "kerastricks.*"]), "kerastricks.recipes"],
    package_dir={"kerastricks.recipes": "recipes"},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        # Bounded to the Keras minor release CI tests (kerastricks uses public APIs only,
        # but a new release can still change behaviour); .ci/run also tests the newest.
        "keras>=3.15,<3.16",
        "numpy>=1.26",
        # Offline data: scikit-learn's bundled digits, scikit-image's bundled photographs.
        "scikit-learn>=1.4",
        "scikit-image>=0.22",
        # Recipe reports and the LR finder write PNG plots.
        "matplotlib>=3.8",
        # keras.callbacks.TensorBoard and the recipes' --tensorboard write event files with
        # tf.summary, which TensorFlow 2.21 no longer installs.
        "tensorboard>=2.21",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "scipy>=1.11", "ruff>=0.6", "build>=1.2"],
        "docs": ["mkdocs>=1.6", "mkdocstrings[python]>=0.26"],
        # The JAX backend (KERAS_BACKEND=jax): the Keras objects run on it (docs/backends.md).
        # 0.10 is the release CI tests with Keras 3.15.
        "jax": ["jax[cpu]>=0.10"],
    },
    entry_points={"console_scripts": ["kerastricks=kerastricks.cli:main"]},
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
    keywords=["keras", "tensorflow", "transfer learning", "self-supervised", "active learning"],
)
