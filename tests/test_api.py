"""The library's one entry, ``bpviz.api.run``: every format through the printer registry, the note
with its figure, typed options that refuse unknown keys, errors that are always BpvizError, golden
files for a network note and the terminal table, and byte-identical output across processes."""

import json
import math
import os
import subprocess
import sys
from fractions import Fraction

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from typer.testing import CliRunner

import bpviz
from bpviz.api import Options, Source, run
from bpviz.cli import app
from bpviz.errors import BpvizError, SpecError, UsageError, ValuesError
from bpviz.render import EXTENSIONS, FORMATS, PRINTERS, choose_printer
from conftest import COLAH, EXAMPLES, NG, NG_AT, RENDERER

runner = CliRunner()


def ng(**options):
    return run(Source.expression(NG, NG_AT), Options.make(renderer=RENDERER, **options))


# -- the registry -------------------------------------------------------------------------------

def test_every_extension_names_one_printer_and_every_printer_is_reachable():
    assert len(EXTENSIONS) == sum(len(p.extensions) for p in PRINTERS)
    for printer in PRINTERS:
        assert choose_printer(None, printer.name) is printer
        for ext in printer.extensions:
            assert choose_printer(f"x{ext.upper()}", None) is printer
    assert choose_printer(None, None).name == "table" and choose_printer("-", None).name == "json"


def test_cli_help_and_errors_come_from_the_registry():
    help_text = " ".join(runner.invoke(app, ["expr", "--help"]).output.split())
    for printer in PRINTERS:
        assert f"{printer.name} ({printer.help})" in help_text
    result = runner.invoke(app, ["expr", "J = x", "--at", "x=1", "-o", "out.xyz"])
    assert result.exit_code == 2 and ", ".join(sorted(EXTENSIONS)) in result.output


@pytest.mark.parametrize("fmt", [name for name in FORMATS if name != "table"])
def test_every_printer_has_the_same_signature_and_gives_text_or_bytes(fmt):
    printer = choose_printer(None, fmt)
    result = ng(format=fmt, figure=False) if printer.note else ng(format=fmt)
    [(path, content)] = result.files
    assert path == "-" and isinstance(content, bytes if printer.binary else str) and content
    assert result.display is None and result.printer is printer


def test_table_is_displayed_not_written():
    result = ng()
    assert result.files == [] and result.display is not None
    with pytest.raises(UsageError, match="prints to the terminal"):
        ng(format="table", out="t.txt")


# -- notes and their figures ----------------------------------------------------------------------

def test_a_library_user_gets_a_note_with_its_figure_beside_it():
    result = ng(out="notes/j.md", lr="0.1", params="w")
    assert [path for path, _ in result.files] == ["notes/j.svg", "notes/j.md"]
    svg, note = (content for _, content in result.files)
    assert svg.lstrip().startswith("<?xml") and "](j.svg)" in note
    assert result.note.update["rows"][0][0] == "w" and result.written == ["notes/j.svg", "notes/j.md"]
    assert not os.path.exists("notes")        # nothing is written until Result.write()


def test_tex_note_gets_a_pdf_and_embed_inlines_the_svg(monkeypatch):
    from bpviz.render import printer
    if printer("pdf").missing() is None:        # cairo here: a vector figure, named away from NAME.pdf
        result = ng(out="d.tex")
        assert result.files[0][0] == "d-figure.pdf" and result.files[0][1][:5] == b"%PDF-"
        assert "keepaspectratio]{d-figure.pdf}" in result.files[1][1]
    monkeypatch.setattr("bpviz.render.dot.pdf_missing", lambda: "no cairo (simulated)")
    result = ng(out="d.tex")                    # without cairo: a PNG beside it
    assert result.files[0][0] == "d.png" and result.files[0][1][:4] == b"\x89PNG"
    assert "keepaspectratio]{d.png}" in result.files[1][1]
    with pytest.raises(BpvizError, match="cannot write PDF here: no cairo"):
        ng(out="d.pdf")
    [(path, note)] = ng(out="e.md", embed=True).files
    assert path == "e.md" and "](data:image/svg+xml;base64," in note


def test_note_link_to_a_figure_with_spaces_and_parentheses_is_an_image_in_commonmark():
    result = ng(out="my note (1).md")
    assert result.files[0][0] == "my note (1).svg"
    html = MarkdownIt("commonmark").render(result.files[1][1])
    assert '<img src="my%20note%20%281%29.svg"' in html


def test_check_report_reaches_the_json_and_the_result():
    result = ng(out="-", check=True)
    data = json.loads(result.files[0][1])
    assert data["check"]["agree"] is True and set(data["check"]["inputs"]) == {"w", "x", "b", "y"}
    assert result.check.ok and result.check_failure() is None


def test_spec_learning_rate_is_the_default_step_and_figure_options_elsewhere_are_refused():
    text = (EXAMPLES / "two-layer.yaml").read_text()
    result = run(Source.spec(text, "two-layer.yaml"), Options.make(out="n.md", figure=False))
    assert result.note.update is not None and "\\eta = 0.5" in result.note.update["intro"]
    with pytest.raises(UsageError, match="--lr adds a gradient step to a note"):
        ng(out="-", lr="0.1")
    with pytest.raises(UsageError, match="--theme, --highlight shape figures"):
        ng(theme="dark", highlight="w")


def test_missing_spec_value_names_the_key_and_line():
    text = "graph:\n  J: w*x\nvalues:\n  w: 1\n"
    with pytest.raises(SpecError, match=r"spec, line 3: values: no value for x \(add it under values:\)"):
        run(Source.spec(text))


# -- options ------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, message", [
    ({"colour": "red"}, "unknown option(s): colour"),
    ({"lang": "fr"}, "--lang must be one of en, zh"),
    ({"theme": "pink"}, "--theme must be one of light, dark"),
    ({"renderer": "gpu"}, "--renderer must be one of auto, system, embedded"),
    ({"digits": 0}, "--digits must be a whole number from 1 to 17"),
    ({"dpi": True}, "--dpi must be a whole number"),
    ({"lr": "fast"}, "--lr must be a number"),
    ({"lr": -1}, "--lr must be positive"),
    ({"lr": math.nan}, "--lr must be a finite number"),
])
def test_options_refuse_unknown_keys_and_bad_values(settings, message):
    with pytest.raises(UsageError) as error:
        Options.make(**settings)
    assert message in error.value.message


def test_options_normalise_and_keep_exact_rates():
    opts = Options.make(lr="0.1", theme="DARK", rankdir="tb", wrt=["w"])
    assert opts.lr == Fraction(1, 10) and opts.theme == "dark" and opts.rankdir == "TB" and opts.wrt == ("w",)


def test_note_only_options_are_refused_elsewhere():
    with pytest.raises(UsageError, match="apply to notes"):
        ng(out="-", wrt=["w"])


# -- the library raises BpvizError and nothing else ---------------------------------------------------

@pytest.mark.parametrize("value", ["abc", True, math.nan, math.inf, -math.inf, None, "nan", "inf", object(),
                                   [[1], [1, 2]], [True, 1], [], "1e999999999"])
def test_from_expression_bad_values_are_values_errors(value):
    with pytest.raises(ValuesError, match="the value of x"):
        bpviz.from_expression("J = x * y", {"x": value, "y": 1})


@pytest.mark.parametrize("values", [[("x", 1)], "x=1", {1: 2}])
def test_from_expression_bad_value_mappings_are_values_errors(values):
    with pytest.raises(BpvizError):
        bpviz.from_expression("J = x", values)


def test_library_accepts_every_kind_of_exact_number():
    import numpy as np
    g = bpviz.from_expression("J = a * b * c * d", {"a": Fraction(1, 3), "b": np.int64(3), "c": np.float64(0.5),
                                                     "d": "2"})
    assert g.out.value == 1


def test_deep_programs_do_not_change_the_recursion_limit():
    before = sys.getrecursionlimit()
    program = "J = " + " + ".join(f"x{i}" for i in range(3000))
    graph = bpviz.from_expression(program, {f"x{i}": i for i in range(3000)})
    assert graph.out.value == sum(range(3000)) and sys.getrecursionlimit() == before


# -- golden files --------------------------------------------------------------------------------

def test_golden_network_note(golden):
    text = (EXAMPLES / "two-layer.yaml").read_text()
    result = run(Source.spec(text, "two-layer.yaml", group=True),
                 Options.make(out="two-layer.md", lr="0.5", renderer=RENDERER, lang="en"))
    golden("notes/two-layer.neurons.md", result.files[-1][1])


def test_golden_terminal_table(golden):
    console = Console(record=True, width=100, color_system=None, force_terminal=False)
    console.print(ng(check=True).display)      # rational: finite differences need no libm, so the
    text = (EXAMPLES / "softmax.yaml").read_text()   # check's digits are the same on every machine
    console.print(run(Source.spec(text, "softmax.yaml", group=True), Options.make()).display)
    golden("table.txt", console.export_text())


# -- the same bytes in every process ------------------------------------------------------------------

def test_output_is_identical_across_processes_with_different_hash_seeds(tmp_path):
    outputs = []
    for seed in ("1", "2"):
        folder = tmp_path / seed
        folder.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        for args in (["expr", COLAH, "--at", "a=2, b=1", "-o", "c.json"],
                     ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", "n.md", "--renderer", RENDERER],
                     ["spec", str(EXAMPLES / "softmax.yaml"), "--group", "neurons", "-o", "s.dot"]):
            proc = subprocess.run([sys.executable, "-m", "bpviz", *args], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
        outputs.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    assert sorted(outputs[0]) == ["c.json", "n.md", "n.svg", "s.dot"]
    assert outputs[0] == outputs[1]


def test_the_library_imports_no_cli_rendering_or_math_library_until_asked():
    code = ("import sys, bpviz, bpviz.api, bpviz.parse.spec, bpviz.network, bpviz.check\n"
            "bpviz.from_expression('J = x*y', {'x': 1, 'y': 2})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('typer', 'rich', 'graphviz', 'click', 'sympy', 'numpy')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_names_with_commas_inside_brackets_are_one_name():
    from bpviz.api import Options
    assert Options.make(out="n.md", wrt=["h.W[1,1], o.b[2]"], params="w,b").wrt == ("h.W[1,1]", "o.b[2]")


def test_long_number_texts_are_parsed_but_not_remembered():
    """parse_number remembers short texts only: a long-running process (bpviz md --watch, a notebook)
    given many long number texts must not keep them all."""
    from bpviz.numeric import _parse_short, parse_number
    _parse_short.cache_clear()
    assert parse_number("0" * 10_000 + "1.5") == Fraction(3, 2)
    assert _parse_short.cache_info().currsize == 0
    assert parse_number("2.75") == Fraction(11, 4) and _parse_short.cache_info().currsize == 1


def test_a_grouped_network_figure_names_its_loss_nodes_as_the_notes_tables_do():
    """--group auto draws a network's neurons as cards, in a graph of its own whose generated nodes were
    numbered afresh: the figure's t1 was 0.01 − o.a[1] while the note's tables called that t13."""
    from bpviz.api import _figure_job
    from bpviz.render import Job
    text = (EXAMPLES / "two-layer.yaml").read_text()
    source = Source.spec(text, "two-layer.yaml")
    full = source.build()
    drawn, grouped = _figure_job(source, Job(full, Options.make(out="n.md")))
    assert grouped
    generated = [n for n in drawn.graph.nodes if n.op is not None and not n.named]
    assert generated
    for node in generated:
        same = full.node(node.name)
        assert (same.op.name, same.param) == (node.op.name, node.param)
        assert [full.nodes[i].name for i in same.inputs] == [drawn.graph.nodes[i].name for i in node.inputs]
