"""Helpers for the note tests: pull every formula out of a note and typeset it with MathJax."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATHJAX = ROOT / "tools" / "mathjax"

_DISPLAY_MD = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.S | re.M)
_INLINE = re.compile(r"(?<![\\$])\$([^$\n]+?)\$")
_ALIGN = re.compile(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", re.S)
_DISPLAY_TEX = re.compile(r"^\\\[\n(.*?)\n\\\]$", re.S | re.M)


def markdown_formulas(text: str) -> list:
    """Every formula of a Markdown note: (tex, display)."""
    found = [(m.group(1), True) for m in _DISPLAY_MD.finditer(text)]
    rest = _DISPLAY_MD.sub("", text)
    rest = re.sub(r"```.*?```", "", rest, flags=re.S)
    found += [(m.group(1), False) for m in _INLINE.finditer(rest)]
    return found


def latex_formulas(text: str) -> list:
    """Every formula of a LaTeX note; align* bodies are checked as aligned blocks."""
    found = [("\\begin{aligned}" + m.group(1) + "\\end{aligned}", True) for m in _ALIGN.finditer(text)]
    found += [(m.group(1), True) for m in _DISPLAY_TEX.finditer(text)]
    rest = _DISPLAY_TEX.sub("", _ALIGN.sub("", text))
    found += [(m.group(1), False) for m in _INLINE.finditer(rest)]
    return found


def mathjax_errors(formulas: list) -> list:
    """[(formula, error)] for every formula MathJax 3 (base + ams) rejects."""
    node = shutil.which("node")
    assert node, "Node.js is needed to typeset formulas with MathJax"
    assert (MATHJAX / "node_modules" / "mathjax-full").is_dir(), \
        "MathJax is not installed: run `make test` (it runs npm install in tools/mathjax)"
    items = [{"tex": tex, "display": display} for tex, display in formulas]
    proc = subprocess.run([node, str(MATHJAX / "check.js")], input=json.dumps(items),
                          capture_output=True, text=True, timeout=300, check=True)
    return [(formulas[f["index"]][0], f["error"]) for f in json.loads(proc.stdout)]


# -- pdflatex ------------------------------------------------------------------------------------

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                    reason="pdflatex is not installed (Debian: texlive-latex-base "
                                           "texlive-latex-recommended; .ci/run installs them)")


def compile_tex(tmp_path, name):
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name],
                          cwd=tmp_path, capture_output=True, text=True, errors="replace", timeout=120)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
    assert proc.returncode == 0, errors or proc.stdout[-2000:]
    assert (tmp_path / name.replace(".tex", ".pdf")).stat().st_size > 5000
