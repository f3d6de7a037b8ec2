"""What `bpviz --help` and small jobs load: the CLI quotes some settings without importing the code
that defines them (that code pulls in numpy), so its copies must stay equal to the originals."""

import subprocess
import sys

from bpviz import api, cli
from bpviz.render import dot


def test_cli_copies_of_settings_match_their_sources():
    assert cli.DIGITS == api.DIGITS and cli.DPI == api.DPI and cli.MAX_CELLS == api.MAX_CELLS
    assert cli.RANKDIRS == dot.RANKDIRS
    assert cli.NETWORK_GROUP_NODES == dot.NETWORK_GROUP_NODES
    assert cli.FIGURE_NODES == dot.FIGURE_NODES


def _loaded(*args: str) -> set:
    """The modules loaded when `bpviz ARGS` ends (the command ends with os._exit: report just before)."""
    code = ("import os, sys; sys.argv = ['bpviz', *sys.argv[1:]]\n"
            "leave = os._exit\n"
            "def report(status):\n"
            "    sys.stderr.write('\\nLOADED ' + ' '.join(sorted(sys.modules)))\n"
            "    sys.stderr.flush()\n"
            "    leave(status)\n"
            "os._exit = report\n"
            "from bpviz.cli import console\n"
            "console()\n")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    loaded = set(done.stderr.rpartition("\nLOADED ")[2].split())
    assert "bpviz.cli" in loaded, done.stderr
    return loaded


def test_help_and_json_jobs_load_no_heavy_libraries(tmp_path):
    heavy = {"numpy", "sympy", "graphviz", "bpviz.render.dot", "bpviz.tensor"}
    assert not heavy & _loaded("--help")
    assert "rich.console" not in _loaded("--help")
    assert not heavy & _loaded("expr", "x*y", "--at", "x=1", "--at", "y=2")
    out = tmp_path / "out.json"
    assert not (heavy | {"yaml", "bpviz.check", "rich.console"}) & _loaded(
        "expr", "J = relu(w*x + b)", "--at", "w=2, x=-1, b=3", "-o", str(out))
    assert out.exists()
    note = tmp_path / "note.md"           # a note without a figure: sympy for its closed forms, no figure code
    loaded = _loaded("expr", "J = relu(w*x + b)", "--at", "w=2, x=-1, b=3", "-o", str(note), "--no-figure")
    assert not {"numpy", "graphviz", "bpviz.render.dot", "bpviz.tensor"} & loaded
    assert note.exists()
