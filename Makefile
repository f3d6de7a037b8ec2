# Every target bootstraps .venv itself, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BPVIZ := $(VENV)/bin/bpviz
STAMP := $(VENV)/.installed
MATHJAX := tools/mathjax/node_modules/.installed

.PHONY: demo test bench venv clean golden install fonts

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

# PNG and PDF figures of Chinese names and --lang zh need a font with Chinese characters; the tests
# that need one skip without it. As root on Debian/Ubuntu this installs fonts-noto-cjk (about 80 MB)
# and fontconfig's fc-list/fc-match, which the tests use to check glyph coverage on their own.
fonts:
	@if command -v fc-list >/dev/null && [ -n "$$(fc-list :lang=zh family)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing fonts-noto-cjk (Chinese figures)"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk fontconfig >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends fonts-noto-cjk fontconfig >/dev/null; }; } \
	  || echo "could not install fonts-noto-cjk; the Chinese figure tests will skip"; \
	else echo "no Chinese font (Debian: sudo apt-get install fonts-noto-cjk); the Chinese figure tests will skip"; fi

test: $(STAMP) $(MATHJAX) fonts
	$(PY) -m pytest -rs

golden: $(STAMP) $(MATHJAX)
	$(PY) -m pytest tests --update-golden

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py

# `bpviz` on your PATH, outside the venv: pipx when it is there, else pip's user install.
install: $(STAMP)
	@if command -v pipx >/dev/null; then pipx install --force .; \
	else $(PYTHON) -m pip install --user --quiet . && echo "installed bpviz into $$($(PYTHON) -m site --user-base)/bin"; fi

clean:
	rm -rf $(VENV) build *.egg-info tools/mathjax/node_modules
