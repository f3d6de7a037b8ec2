"""Program text as an attacker writes it: nothing executes, nothing crashes, no line is misread."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpviz
from bpviz.errors import BpvizError, ParseError
from hostile.support import bpviz as run_bpviz
from hostile.support import invoke

REFUSED = [
    "__import__('os').system('touch pwned')",
    "f = (lambda: 1)()",
    "ｅｘｅｃ('1')",                       # fullwidth: NFKC-folded to exec, still not a known function
    "f = x.__class__",
    "f = f'{x}'",
    "f = [x for x in y]",
    "import os",
    "f = x if y else z",
    "del x",
    "f = x; f = y",
    "a = b; b = a",
    "f = x @ y",
    "f = x ^ 2",
    "f = 'text'",
    "f = x\x1b[31m",
    "f = x\u202e + y",
    "f = (" * 300 + "x" + ")" * 300,
    "f = " + "-" * 5000 + "x",
    "x = " + "1" * 5000,
    "f = x * 1e999999999",
    "f = x * 1e-999999999",
    "f = 0x" + "f" * 5000,
    "",
    "   \n# only a comment\n",
]


@pytest.mark.parametrize("program", REFUSED, ids=range(len(REFUSED)))
def test_hostile_programs_are_refused_in_one_line(program, tmp_path):
    target = tmp_path / "out.json"
    result = invoke("expr", program, "--at", "x=1, y=2, z=3", "-o", str(target))
    assert result.exit_code in (1, 2), result.output
    assert result.output.startswith("error:") and not target.exists()
    assert len(result.output) < 2000


def test_nothing_in_a_program_runs(tmp_path):
    for program in REFUSED[:4]:
        run_bpviz("expr", program, "--at", "x=1", cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_lone_carriage_return_is_a_line_break():
    """Python's tokenizer and str.splitlines() once disagreed: f came out as 32 instead of 17."""
    proc = run_bpviz("expr", "-", "-o", "-", input=b"q = 7\ry = 2\nf = 5*y + q\n")
    assert json.loads(proc.stdout)["nodes"][-1]["value"] == 17


def test_windows_line_endings():
    graph = bpviz.from_expression("c = w*x\r\nJ = c + 1\r\n", {"w": 2, "x": 3})
    assert graph.out.value == 7


@pytest.mark.parametrize("data", [b"\xff\xfe\x00", b"f = x\x00", b"\xef\xbb\xbff = x"])
def test_bytes_on_stdin(data):
    proc = run_bpviz("expr", "-", "--at", "x=1", input=data)
    assert proc.stderr.decode().count("\n") <= 3


def test_closed_stdin():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "bpviz", "expr", "-"], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)
    assert proc.returncode == 1 and b"empty" in proc.stderr


def test_endless_stdin_is_cut_off():
    import subprocess
    import sys
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "bpviz", "expr", "-"], stdin=zero, capture_output=True,
                              timeout=120)
    assert proc.returncode == 1 and b"larger than 4 MB" in proc.stderr


def test_a_syntax_error_in_a_huge_line_shows_a_window():
    result = invoke("expr", "J = " + "+".join(["x"] * 100_000) + " +* 2", "--at", "x=1")
    assert result.exit_code == 1 and len(result.output) < 500 and "…" in result.output


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(BpvizError):
        bpviz.from_expression("f = " + "(" * 5000 + "x" + ")" * 5000, {"x": 1})


def test_too_many_nodes():
    program = "s0 = x\n" + "\n".join(f"s{i} = s{i - 1} * x + {i}" for i in range(1, 60_000))
    with pytest.raises(BpvizError, match="more than 100,000 nodes"):
        bpviz.from_expression(program, {"x": 1})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_any_text_is_a_graph_or_a_clean_error(text):
    try:
        bpviz.from_expression(text, {})
    except BpvizError as exc:
        assert exc.message and "\n" not in exc.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="xy+-*/()=;\n\r 0123456789.e", max_size=40))
def test_operator_soup_never_crashes(text):
    try:
        bpviz.from_expression(text, {"x": "0.5", "y": 2})
    except BpvizError:
        pass


def test_parse_error_carries_a_caret_within_the_window():
    with pytest.raises(ParseError) as error:
        bpviz.from_expression("J = x +* 2", {"x": 1})
    assert error.value.detail.splitlines()[1].index("^") == 2 + 7


def test_a_flat_sum_of_30000_terms_is_not_too_deep():
    """A sum nests on its left, one level a term: past 20,000 terms it was refused as 'nested more than
    20000 levels deep' although nobody nested anything. The walk goes down a left side in a loop."""
    n = 30_000
    g = bpviz.from_expression("J = " + " + ".join(f"x{i}" for i in range(n)), {f"x{i}": i for i in range(n)})
    assert g.node("J").value == n * (n - 1) // 2 and all(g.node(f"x{i}").grad == 1 for i in (0, n - 1))


def test_a_sum_too_long_for_pythons_parser_says_how_to_split_it():
    with pytest.raises(ParseError, match="split a long sum"):
        bpviz.from_expression("J = " + " + ".join(["x"] * 120_000), {"x": 1})


@pytest.mark.parametrize("program, column", [("J = w * q<a=b", 12), ("J = w * q<=a=b", 13)])
def test_a_second_equals_sign_is_pointed_at(program, column):
    """Python points at column 1 and suggests '==' or ':=', neither of which bpviz has."""
    with pytest.raises(ParseError) as caught:
        bpviz.from_expression(program, {})
    assert caught.value.column == column and "one '=' per line" in caught.value.message
