"""The command line through typer's CliRunner, and once as a real installed subprocess."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bpviz.cli import app
from conftest import NG

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_table_lists_every_node_and_gradients():
    result = run("expr", NG, "--at", "w=2", "--at", "x=-2", "--at", "b=8", "--at", "y=2")
    assert result.exit_code == 0, result.output
    for fragment in ("w·x", "a − y", "∂J/∂w = −4", "∂J/∂b = 2", "J = 2"):
        assert fragment in result.output


def test_json_to_file(tmp_path):
    out = tmp_path / "j.json"
    result = run("expr", "J = (w*x + b - y)**2 / 2", "--at", "w=2, x=-2, b=8, y=2", "-f", "json",
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["output"] == "J" and data["gradients"] == {"w": -4, "x": 4, "b": 2, "y": -2}


def test_json_to_stdout_and_program_from_stdin():
    result = run("expr", "-", "--at", "a=2, b=1", "-o", "-", input="e = (a + b) * (b + 1)\n")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["gradients"] == {"a": 2, "b": 5}


def test_values_file(tmp_path):
    vals = tmp_path / "v.yaml"
    vals.write_text("apple: 100\nn_apple: 2\ntax: 1.1\n")
    result = run("expr", "J = apple * n_apple * tax", "--values", str(vals), "-o", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["nodes"][-1]["value"] == 220


def test_at_overrides_values_file(tmp_path):
    vals = tmp_path / "v.json"
    vals.write_text('{"x": 1, "y": 2}')
    result = run("expr", "J = x*y", "--values", str(vals), "--at", "y=5", "-o", "-")
    assert json.loads(result.stdout)["values"] == {"x": 1, "y": 5}


def test_check_passes_and_prints_table():
    result = run("expr", NG, "--at", "w=2, x=-2, b=8, y=2", "--check")
    assert result.exit_code == 0, result.output
    assert "sympy diff" in result.output and "agree" in result.output


@pytest.mark.parametrize("args, code, fragment", [
    (["expr", "J = foo(x)", "--at", "x=1"], 1, "unknown function 'foo'"),
    (["expr", "J = x +* 2", "--at", "x=1"], 1, "column 8"),
    (["expr", "J = w*x"], 1, "no value for w, x"),
    (["expr", "J = w*x", "--at", "w=1, x=2, q=3"], 1, "'q'"),
    (["expr", "J = log(x)", "--at", "x=0"], 1, "log is undefined at 0"),
    (["expr", "J = x", "--at", "x=abc"], 1, "must be a number"),
    (["expr", "J = x", "--at", "x=1", "-o", "out.xyz"], 2, "cannot tell the format"),
    (["expr", "J = x", "--at", "x=1", "-f", "pdfx"], 2, "unknown format"),
    (["expr", "J = x", "--at", "x=1", "-o", "/nonexistent/dir/j.json"], 1, "does not exist"),
])
def test_errors_are_one_clean_line(args, code, fragment):
    result = run(*args)
    assert result.exit_code == code, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_error_leaves_existing_file_untouched(tmp_path):
    out = tmp_path / "j.json"
    out.write_text("precious")
    result = run("expr", "J = log(x)", "--at", "x=0", "-o", str(out))
    assert result.exit_code == 1
    assert out.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]


def test_same_input_same_bytes(tmp_path):
    outputs = []
    for i in range(2):
        out = tmp_path / f"{i}.json"
        run("expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", str(out))
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_check_failure_exits_1(monkeypatch):
    import bpviz.check as check_module
    real = check_module.sympy_gradient
    monkeypatch.setattr(check_module, "sympy_gradient",
                        lambda g: {k: v + 1 for k, v in real(g).items()})
    result = run("expr", "J = x*y", "--at", "x=1, y=2", "--check")
    assert result.exit_code == 1 and "disagree" in result.output


def _installed_bpviz():
    exe = shutil.which("bpviz", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("bpviz is not installed next to this Python")
    return exe


def test_real_subprocess_of_installed_command(tmp_path):
    exe = _installed_bpviz()
    proc = subprocess.run([exe, "expr", "e = (a + b) * (b + 1)", "--at", "a=2, b=1", "-o", "-"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["gradients"] == {"a": 2, "b": 5}
    bad = subprocess.run([exe, "expr", "J = log(x)", "--at", "x=0"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr



def test_real_subprocess_flushes_everything_and_keeps_the_exit_status():
    """bpviz ends without the interpreter's teardown (cli.console): what it printed must still all
    arrive, and each status must be the one the job ended with."""
    exe = _installed_bpviz()
    program = "\n".join(f"v{i} = v{i - 1} * x + {i}" for i in range(1, 400)) + "\n"
    big = subprocess.run([exe, "expr", "-", "--at", "x=1/2", "-o", "-"],
                         input="v0 = x\n" + program, capture_output=True, text=True, timeout=120)
    assert big.returncode == 0, big.stderr
    assert len(big.stdout) > 100_000 and len(json.loads(big.stdout)["nodes"]) > 1000
    usage = subprocess.run([exe, "expr", "x*y", "--digits", "99"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "digits" in usage.stderr
    help_ = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert help_.returncode == 0 and help_.stdout.startswith("Usage: bpviz")




def test_main_exits_as_usual_for_its_callers(tmp_path):
    """Only the installed command skips the interpreter's teardown: main() raises SystemExit to its
    caller, whose cleanup (finally, atexit) still runs."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('atexit ran'))\n"
            "sys.argv = ['bpviz', 'expr', 'J = x*2', '--at', 'x=1', '-o', sys.argv[1]]\n"
            "from bpviz.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    print('caught', exc.code)\n"
            "finally:\n    print('finally')\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "j.json")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["caught 0", "finally", "atexit ran"]
    assert (tmp_path / "j.json").exists()

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_table_to_a_full_disk_is_an_output_error_not_an_internal_one():
    exe = _installed_bpviz()
    with open("/dev/full", "w") as full:
        proc = subprocess.run([exe, "expr", "x*y", "--at", "x=1", "--at", "y=2"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: cannot write standard output: No space left on device"



def test_help_and_version_to_a_full_disk_are_output_errors():
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    exe = _installed_bpviz()
    for args in (["--help"], ["--version"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([exe, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert proc.returncode == 1, args
        assert proc.stderr == "error: cannot write standard output: No space left on device\n"



def test_a_job_whose_standard_error_is_full_still_succeeds():
    """A warning (relu at its kink) that cannot be written does not fail the job or lose its table."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    exe = _installed_bpviz()
    with open("/dev/full", "w") as full:
        proc = subprocess.run([exe, "expr", "y = relu(x)", "--at", "x=0"], stdout=subprocess.PIPE, stderr=full,
                              text=True, timeout=120)
    assert proc.returncode == 0 and "∂y/∂x = 0" in proc.stdout

def test_a_table_the_terminal_encoding_cannot_show_is_an_output_error():
    exe = _installed_bpviz()
    proc = subprocess.run([exe, "expr", "J = θ*x", "--at", "θ=2, x=3"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: standard output's encoding (ascii) cannot show ")
    assert "PYTHONIOENCODING=utf-8" in proc.stderr and "Traceback" not in proc.stderr


def test_an_interrupted_job_says_so_and_leaves_nothing(tmp_path):
    """Ctrl-C (SIGINT) or SIGTERM in the middle of a long job: exit 130, one line saying nothing was
    left half-written, and no file (typer turns KeyboardInterrupt into a silent exit 130 by itself)."""
    import signal
    import time
    exe = _installed_bpviz()
    program = "\n".join(f"v{i} = (v{i - 1} + v{max(i - 7, 0)}) * x{i % 50}" for i in range(1, 25000))
    values = tmp_path / "v.json"
    values.write_text(json.dumps({f"x{i}": "0.5" for i in range(50)} | {"v0": "1"}))
    for sig in (signal.SIGINT, signal.SIGTERM):
        out = tmp_path / "note.md"
        proc = subprocess.Popen([exe, "expr", "-", "--values", str(values), "-o", str(out), "--no-figure"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.stdin.write(program)
        proc.stdin.close()
        time.sleep(0.8)
        proc.send_signal(sig)
        err = proc.stderr.read()
        if proc.wait(timeout=120) == 0:
            pytest.skip("the job finished before the signal (a very fast machine)")
        assert proc.returncode == 130 and err.strip() == "interrupted; nothing was left half-written", err
        assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["v.json"]


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "bpviz", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("bpviz ")


def test_check_prints_and_writes_the_directional_check():
    result = run("expr", NG, "--at", "w=2, x=-2, b=8, y=2", "--check", "-o", "-")
    assert result.exit_code == 0, result.output
    directional = json.loads(result.stdout)["check"]["directional"]
    assert directional["seed"] == 14 and len(directional["directions"]) == 3
    for d in directional["directions"]:
        assert set(d) == {"ours", "finite_difference", "scale", "error"} and d["error"] < 1e-8
    table = run("expr", NG, "--at", "w=2, x=-2, b=8, y=2", "--check")
    assert "directional check, seed 14" in table.output and "√Σ(∂·d)²" in table.output


def test_check_on_a_big_graph_shows_the_disagreeing_rows_and_leaves_the_rest_to_the_json(monkeypatch):
    from rich.console import Console

    import bpviz
    from bpviz.check import check
    from bpviz.render.terminal import CHECK_ROWS, render_check
    program = "J = " + " + ".join(f"sin(w{i}*x)" for i in range(300))
    g = bpviz.from_expression(program, {"x": "0.5", **{f"w{i}": f"0.{i % 9 + 1}" for i in range(300)}})
    g.node("w249").grad += 1                      # wrong, and sampled (every 2nd input is: w0, w1, w3, ...)
    report = check(g)
    assert not report.ok and "every 2nd" in report.per_input_skipped
    console = Console(record=True, width=120, color_system=None, force_terminal=False)
    console.print(render_check(report))
    text = console.export_text()
    assert "w249" in text and "w199 " not in text and "DISAGREE" in text
    assert f"{len(report.rows) - CHECK_ROWS:,} more inputs left out" in text


@pytest.mark.parametrize("columns", ["0", "1", "-3"])
def test_a_tiny_or_zero_width_loses_no_output(columns):
    """COLUMNS=0 once printed nothing at all, not even the error; a sliver of a width folded every
    cell to one character."""
    ok = runner.invoke(app, ["expr", "J = w*x", "--at", "w=1, x=2"], env={"COLUMNS": columns})
    assert ok.exit_code == 0 and "J = 2" in ok.output and "∂J/∂w = 2" in ok.output, ok.output
    assert "│ w " in ok.output                          # the table's cells keep their text
    bad = runner.invoke(app, ["expr", "J = x +* 2", "--at", "x=1"], env={"COLUMNS": columns})
    assert bad.exit_code == 1 and "syntax error at column 8" in bad.output, bad.output


def test_check_with_a_file_output_says_its_verdict(tmp_path):
    """--check -o x.svg printed only 'wrote …': a student thought the check had been ignored."""
    result = runner.invoke(app, ["expr", "J = w*x", "--at", "w=2, x=3", "--check", "-o", str(tmp_path / "c.svg")])
    assert result.exit_code == 0 and "check: gradients agree (largest relative error" in result.output


def test_standard_input_cannot_be_both_the_program_and_the_values():
    result = runner.invoke(app, ["expr", "-", "--values", "-"], input="J = w")
    assert result.exit_code == 2 and "standard input can hold the program or the values, not both" in result.output


def test_a_device_named_as_the_program_is_not_called_missing():
    result = runner.invoke(app, ["expr", "/dev/zero"])
    assert result.exit_code == 1 and "/dev/zero: not a regular file" in result.output


def test_an_empty_format_is_an_unknown_format():
    result = runner.invoke(app, ["expr", "J = w", "--at", "w=1", "-f", "", "-o", "-"])
    assert result.exit_code == 2 and "unknown format ''" in result.output
