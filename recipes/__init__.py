"""The recipes: runnable templates, one file per trick family (`kerastricks list`).

In a checkout they live here, at the top of the repository, to be read and copied; the
wheel ships this folder as the `kerastricks.recipes` package (see `setup.py`), where the
`kerastricks` command finds them. Run one with `kerastricks run NAME`.
"""
