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
    packages=find_packages(include=["kerastricks", "kerastricks.*"]),
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
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "scipy>=1.11", "ruff>=0.6"],
        "docs": ["mkdocs>=1.6", "mkdocstrings[python]>=0.26"],
    },
    entry_points={"console_scripts": ["kerastricks=kerastricks.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
