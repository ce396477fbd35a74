"""Sphinx configuration for sklearn-vision."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sklearn_vision  # noqa: E402

project = "sklearn-vision"
release = version = sklearn_vision.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
templates_path = ["_templates"]
numpydoc_show_class_members = False
html_theme = "pydata_sphinx_theme"
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("sklearn_vision",),
    "backreferences_dir": "generated/backreferences",
}
exclude_patterns = ["_build"]
