"""Sphinx configuration for sklearn-vision."""

import os
import re
import tempfile
import time
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sklearn_vision  # noqa: E402

project = "sklearn-vision"
release = version = sklearn_vision.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
]
autosummary_generate = True
templates_path = ["_templates"]
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
# Straight quotes and double hyphens as typed: "--repeats" and default="auto"
# must copy as they are, not as an en dash and curly quotes.
smartquotes = False
# The page contents of an API page list `fit()`, not
# `LearningCurveEstimator.fit()`, which the right sidebar cut off.
toc_object_entries_show_parents = "hide"

# The user guide pages that explain each public name: a "User guide" line at
# the top of its API page (docs/_templates/autosummary/).
_USER_GUIDE = {
    "TransferImageClassifier": ("train_a_classifier", "choosing_a_backbone"),
    "BackboneFeatures": ("choosing_a_backbone", "augmentation_and_cache"),
    "LearningCurveEstimator": ("learning_curve", "read_an_extrapolation"),
    "PowerLawRegressor": ("read_an_extrapolation", "methods"),
    "load_model": ("save_and_serve",),
    "LearningCurveExtrapolationDisplay": ("learning_curve", "read_an_extrapolation"),
    "TrainingHistoryDisplay": ("train_a_classifier",),
    "LearningCurveWarning": ("read_an_extrapolation",),
    "FeatureCache": ("augmentation_and_cache",),
    "feature_cache_context": ("augmentation_and_cache",),
    "get_feature_cache": ("augmentation_and_cache",),
    "set_feature_cache": ("augmentation_and_cache", "scaling_out"),
    "load_image_csv": ("medical_images",),
    "load_image_folder": ("image_folders", "medical_images"),
    "read_image": ("image_folders", "medical_images"),
    "datasets.load_digits_images": ("getting_started",),
    "datasets.make_patient_digits": ("medical_images",),
}
autosummary_context = {
    "user_guide": {f"sklearn_vision.{name}": pages for name, pages in _USER_GUIDE.items()},
    # Methods scikit-learn adds to every estimator that the API pages leave
    # out: the metadata-routing requests and set_output.
    "skipped_methods": [
        "set_fit_request",
        "set_score_request",
        "set_predict_request",
        "set_transform_request",
        "set_inverse_transform_request",
        "set_predict_proba_request",
        "set_output",
    ],
}

# -- HTML ---------------------------------------------------------------------

REPOSITORY = "https://github.com/sklearn-vision/sklearn-vision"

html_theme = "pydata_sphinx_theme"
# The header shows this title beside the navigation links; the full
# "sklearn-vision <version> documentation" overlapped them between 1024 and 1920 px.
html_title = project
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "github_url": REPOSITORY,
    # A search icon instead of the wide search field leaves the header room
    # for its links at 1024 px.
    "navbar_persistent": ["search-button"],
    # Getting started, User guide, API reference and Gallery (docs/index.rst's
    # order), the rest under "More": one row of header from 1024 px on.
    "header_links_before_dropdown": 6,
    # The page's own sections: on the right beside section navigation (API
    # reference, gallery), in the left sidebar on pages without subpages.
    "secondary_sidebar_items": ["page-toc-beside-navigation"],
}
html_sidebars = {"**": ["sidebar-collapse", "sidebar-nav-or-page-toc"]}

# -- Cross-references to other projects ----------------------------------------

# The inventories are read from the web. An offline build must still pass with
# warnings as errors: after the web, each project falls back on a local copy
# (docs/_inventories/<name>.inv, when there is one) and last on an
# empty inventory, so a failed download is logged, not warned about, and the
# references render as code instead of links. An empty stand-in is kept for
# intersphinx_cache_limit days; `make clean-docs` forgets it.
_INTERSPHINX = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "scipy": "https://docs.scipy.org/doc/scipy",
    "sklearn": "https://scikit-learn.org/stable",
    "joblib": "https://joblib.readthedocs.io/en/stable",
    "matplotlib": "https://matplotlib.org/stable",
    "imblearn": "https://imbalanced-learn.org/stable",
}


def _empty_inventory():
    """Path of an inventory that lists nothing (written once per machine)."""
    path = Path(tempfile.gettempdir()) / "sklearn-vision-docs-empty-objects.inv"
    if not path.exists():
        header = b"# Sphinx inventory version 2\n# Project: none\n# Version: 0\n"
        header += b"# The remainder of this file is compressed using zlib.\n"
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_bytes(header + zlib.compress(b""))
        partial.replace(path)
    return str(path)


def _inventory_locations(name):
    local = Path(__file__).parent / "_inventories" / f"{name}.inv"
    return (None, *([str(local)] if local.exists() else []), _empty_inventory())


intersphinx_mapping = {
    name: (url, _inventory_locations(name)) for name, url in _INTERSPHINX.items()
}
intersphinx_timeout = 5

# -- Gallery ------------------------------------------------------------------

EXECUTED = r"/(plot_|quick_start)"
# Reading order of the examples the gallery runs; any other runs after them in
# file-name order, and the examples shown without running come last.
READING_ORDER = (
    "quick_start.py",
    "plot_transfer_learning.py",
    "plot_how_many_images.py",
    "plot_power_law_models.py",
    "plot_patient_groups.py",
    "plot_imbalance.py",
)


def _gallery_order():
    names = sorted(path.name for path in (Path(__file__).parent / "../examples").glob("*.py"))
    executed = [name for name in names if re.search(EXECUTED, "/" + name)]
    first = [name for name in READING_ORDER if name in executed]
    rest = [name for name in executed if name not in first]
    return first + rest + [name for name in names if name not in executed]


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": EXECUTED,
    # A bound method of a list: sortable by position, and picklable with the
    # environment (a function defined here is not).
    "within_subsection_order": _gallery_order().index,
    "doc_module": ("sklearn_vision",),
    "backreferences_dir": "generated/backreferences",
    # Hide the `# sphinx_gallery_...` lines from the code shown: the
    # thumbnails (docs/_static/thumb_*.png) of the examples not run.
    "remove_config_comments": True,
}

# -- Substitutions --------------------------------------------------------------

# The registered backbone names (docs/api.rst) and the year of this build, or of
# SOURCE_DATE_EPOCH for a reproducible one (the citation in docs/citing.rst).
_YEAR = time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))).tm_year
_BACKBONE_NAMES = ", ".join(f"``{name}``" for name in sorted(sklearn_vision.BACKBONES))
rst_epilog = f"""
.. |backbone_names| replace:: {_BACKBONE_NAMES}
.. |citation_year| replace:: {_YEAR}
"""

# -- Build hooks ----------------------------------------------------------------

# The labels of scikit-learn's docs that the docstrings of inherited methods
# (score, get_metadata_routing) refer to. The web inventory resolves them; the
# local copy of an offline build has no labels, so they are resolved here.
_SKLEARN_LABELS = {
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "metadata_routing": "metadata_routing.html#metadata-routing",
    "r2_score": "modules/model_evaluation.html#r2-score",
}


def _resolve_sklearn_label(app, env, node, contnode):
    if node.get("reftype") != "ref" or node.get("reftarget") not in _SKLEARN_LABELS:
        return None
    from docutils import nodes

    uri = f"{_INTERSPHINX['sklearn']}/{_SKLEARN_LABELS[node['reftarget']]}"
    reference = nodes.reference("", "", internal=False, refuri=uri)
    reference += contnode
    return reference


# The figures of the gallery that other pages show, and the example that
# draws each. A build that does not run the gallery (make docs-quick) puts a
# placeholder in their place while it runs, so that it passes with warnings as
# errors; it is removed at the end, so the gallery never takes it for the
# example's own figure (as a thumbnail).
_GALLERY_FIGURES = {
    "auto_examples/images/sphx_glr_plot_how_many_images_001.png": "plot_how_many_images.py",
}


def _write_figure_placeholders(app):
    if app.config.sphinx_gallery_conf["plot_gallery"]:
        return
    placeholders = []
    for figure, example in _GALLERY_FIGURES.items():
        path = Path(app.srcdir) / figure
        if path.exists():
            continue
        import matplotlib.pyplot as plt

        path.parent.mkdir(parents=True, exist_ok=True)
        fig = plt.figure(figsize=(6.4, 2), edgecolor="0.8", linewidth=2)
        fig.text(
            0.5,
            0.5,
            f"Figure drawn by examples/{example}:\n"
            "this build did not run the gallery (make docs does).",
            ha="center",
            va="center",
            color="0.35",
        )
        fig.savefig(path, dpi=80)
        plt.close(fig)
        placeholders.append(path)
    app.connect("build-finished", lambda app, exception: _remove(placeholders))


def _remove(paths):
    for path in paths:
        path.unlink(missing_ok=True)


# Formatter directives that keep the examples' hand-aligned calls as written;
# the gallery's pages show the code without them.
_FORMATTER_COMMENT = re.compile(r"[ \t]+# fmt: (skip|off|on)[ \t]*$", re.MULTILINE)


def _strip_formatter_comments(app, docname, source):
    if docname.startswith("auto_examples/"):
        source[0] = _FORMATTER_COMMENT.sub("", source[0])


def setup(app):
    app.connect("missing-reference", _resolve_sklearn_label, priority=900)
    # After sphinx-gallery's own builder-inited, which writes the example pages
    # (and runs the examples when plot_gallery is on).
    app.connect("builder-inited", _write_figure_placeholders, priority=900)
    app.connect("source-read", _strip_formatter_comments)
