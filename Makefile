# make docs: the HTML docs with the gallery examples executed; warnings are errors.
PYTHON ?= .venv/bin/python

.PHONY: docs clean-docs

docs:
	MPLBACKEND=agg $(PYTHON) -m sphinx -W --keep-going -b html docs docs/_build/html

clean-docs:
	rm -rf docs/_build docs/generated docs/auto_examples
