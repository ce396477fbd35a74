# make docs: the HTML docs with the gallery examples executed; warnings are errors.
# make docs-quick: the same without running the examples, in seconds.
PYTHON ?= .venv/bin/python
SPHINX = MPLBACKEND=agg $(PYTHON) -m sphinx -W --keep-going -b html

.PHONY: docs docs-quick clean-docs

docs:
	$(SPHINX) docs docs/_build/html

docs-quick:
	$(SPHINX) -D plot_gallery=0 docs docs/_build/html-quick

clean-docs:
	rm -rf docs/_build docs/generated docs/auto_examples
