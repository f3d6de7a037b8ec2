"""Running bpviz as an attacker would: every run must end with exit 0, 1 or 2 (never 3, never a
traceback), and a failed run must leave the output untouched."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from bpviz.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    """The CLI in-process; an exception that escapes it (exit 3 from `bpviz`) fails the test."""
    result = runner.invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        shown = " ".join(str(a)[:60] for a in args)
        raise AssertionError(f"bpviz {shown!r} raised "
                             f"{type(result.exception).__name__}: {result.exception}") from result.exception
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    return result


def bpviz(*args, input=None, timeout=120, cwd=None):
    """The installed command in a subprocess (for stdin bytes, signals and hangs)."""
    proc = subprocess.run([sys.executable, "-m", "bpviz", *args], input=input, capture_output=True,
                          timeout=timeout, cwd=cwd)
    assert proc.returncode in (0, 1, 2), (args, proc.returncode, proc.stderr.decode(errors="replace"))
    assert b"Traceback" not in proc.stderr
    return proc
