# Every target bootstraps .venv itself, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BPVIZ := $(VENV)/bin/bpviz
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv clean golden

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/render_all.py

test: $(STAMP)
	$(PY) -m pytest

golden: $(STAMP)
	$(PY) -m pytest tests --update-golden

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
