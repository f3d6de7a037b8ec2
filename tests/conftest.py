"""Shared fixtures and examples: golden files (updated only with --update-golden), the worked
examples every test file uses, and paths. Golden figures pin the embedded renderer (graphviz-pure),
so they do not depend on whether a machine has a system Graphviz."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))   # helpers such as notes_support

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = ROOT / "examples"

# The worked examples of the material our users learn from (shared/SEEDS.md), with their values.
NG = "c = w*x; a = c + b; d = a - y; J = d**2/2"                  # Andrew Ng's computation graph
NG_AT = {"w": 2, "x": -2, "b": 8, "y": 2}
NG_AT_TEXT = "w=2, x=-2, b=8, y=2"
APPLES = ("apple_price = apple * n_apple; orange_price = orange * n_orange; "   # Deep Learning from Scratch
          "subtotal = apple_price + orange_price; total = subtotal * tax")
APPLES_AT = {"apple": 100, "n_apple": 2, "orange": 150, "n_orange": 3, "tax": "1.1"}
COLAH = "e = (a + b) * (b + 1)"                                       # colah's fan-out example
COLAH_AT = {"a": 2, "b": 1}
EVERY_OP = ("u = sigmoid(w_1*x) + tanh(θ) - relu(x - 3) + softplus(x) + abs(x - 5); "
            "v = exp(x/4) * log(x) + sqrt(x) + sin(x) * cos(x) + tan(x/10); "
            "J = u / v + u**2 - x**(1/2) + 2**x + (-u) + 1e-9*x")
EVERY_OP_AT = {"w_1": "0.5", "x": 2, "θ": "0.3"}
RENDERER = "embedded"


def pytest_report_header(config):
    """Which optional tools this run found: the tests that need a missing one skip and say why (-rs)."""
    import shutil
    from bpviz.write import find_tex_package
    found = {"system Graphviz (dot)": shutil.which("dot"), "pdflatex": shutil.which("pdflatex"),
             "chromium": shutil.which("chromium") or shutil.which("chromium-browser"),
             "CJKutf8 (Chinese LaTeX)": find_tex_package("CJKutf8.sty")}
    return "optional tools: " + ", ".join(f"{name} {'found' if path else 'missing'}" for name, path in found.items())


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from the current output instead of comparing")


@pytest.fixture
def golden(request):
    """Compare text against tests/golden/NAME; with --update-golden, rewrite the file."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}; run `make golden` and review it"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"output differs from {path} (run `make golden` if intended)"

    return check
