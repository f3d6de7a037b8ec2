# Every target bootstraps .venv itself, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BPVIZ := $(VENV)/bin/bpviz
STAMP := $(VENV)/.installed
MATHJAX := tools/mathjax/node_modules/.installed

.PHONY: demo test bench venv clean golden install

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/render_all.py

# MathJax (npm) typesets every formula the notes emit; the tests fail if it rejects one.
$(MATHJAX): tools/mathjax/package.json
	cd tools/mathjax && npm install --no-package-lock --no-audit --no-fund --silent
	touch $(MATHJAX)

test: $(STAMP) $(MATHJAX)
	$(PY) -m pytest -rs

golden: $(STAMP) $(MATHJAX)
	$(PY) -m pytest tests --update-golden

bench: $(STAMP)
	$(PY) benchmarks/run.py

# `bpviz` on your PATH, outside the venv: pipx when it is there, else pip's user install.
install: $(STAMP)
	@if command -v pipx >/dev/null; then pipx install --force .; \
	else $(PYTHON) -m pip install --user --quiet . && echo "installed bpviz into $$($(PYTHON) -m site --user-base)/bin"; fi

clean:
	rm -rf $(VENV) build *.egg-info tools/mathjax/node_modules
