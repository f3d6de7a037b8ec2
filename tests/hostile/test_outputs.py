"""What bpviz writes, with hostile strings in titles, names and paths: no live HTML in a note, no
escaped fence, no LaTeX command from a file name, no control sequence or rich markup on a terminal."""

import html as html_module
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bpviz.api import Options, Source, run
from bpviz.escape import html, md_fence, md_text, one_line, tex_text, terminal_text
from hostile.support import invoke

MD = MarkdownIt("commonmark", {"html": True})
TITLES = ["<img src=x onerror=alert(1)>", "x\n```\n<script>alert(1)</script>\n```", "[red]x[/red] [/b]",
          "\x1b[2J\x1b]0;pwned\x07title", "$\\input{/etc/passwd}$", "![i](javascript:alert(1))",
          "a\u202eb", "&lt;script&gt;", "``` ```` `````"]


def spec(title: str) -> str:
    quoted = title.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\x1b", "\\e") \
        .replace("\x07", "\\a")
    return f'title: "{quoted}"\ngraph:\n  J: w * x\nvalues: {{w: 2, x: 3}}\n'


@pytest.mark.parametrize("title", TITLES, ids=range(len(TITLES)))
def test_a_title_is_text_in_every_format(title, tmp_path):
    source = Source.spec(spec(title), "t.yaml")
    note = run(source, Options.make(out="n.md", figure=False)).files[-1][1]
    rendered = MD.render(note)
    assert "<img" not in rendered and "<script" not in rendered
    assert not re.findall(r'(?:src|href)="javascript:', rendered)
    tags = set(re.findall(r"<(\w+)", rendered))
    assert tags <= {"h1", "h2", "h3", "p", "strong", "em", "pre", "code", "table", "thead", "tbody", "tr",
                    "th", "td", "hr", "ul", "li"}, tags
    fences = [t for t in MD.parse(note) if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content.rstrip("\n") == spec(title).strip()
    tex = run(source, Options.make(out="n.tex", figure=False)).files[-1][1]
    assert "\\input{/etc" not in tex and "\x1b" not in tex
    dot = run(source, Options.make(format="dot")).files[-1][1]
    assert "<img" not in dot and "\x1b" not in dot


@pytest.mark.parametrize("title", TITLES, ids=range(len(TITLES)))
def test_a_title_on_the_terminal(title, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(spec(title))
    result = invoke("spec", str(path))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output and "\x07" not in result.output


def test_rich_markup_in_a_path_is_printed_as_written(tmp_path):
    out = tmp_path / "[red]x[b].json"
    result = invoke("expr", "J = x", "--at", "x=1", "-o", str(out))
    assert result.exit_code == 0 and "[red]x[b].json" in result.output and out.exists()


@pytest.mark.parametrize("name", ["x}\\immediate\\write18{touch pwned}\\iffalse{.tex", "a b%#.tex", "ü.tex"])
def test_a_latex_figure_name_that_latex_would_read_as_code_is_refused(name, tmp_path):
    result = invoke("expr", "J = x*y", "--at", "x=1, y=2", "-o", str(tmp_path / name), "--renderer", "embedded")
    assert result.exit_code == 1 and "cannot be named in LaTeX" in result.output
    assert list(tmp_path.iterdir()) == []
    result = invoke("expr", "J = x*y", "--at", "x=1, y=2", "-o", str(tmp_path / name), "--no-figure")
    assert result.exit_code == 0


def test_markdown_image_link_survives_any_file_name(tmp_path):
    for name in ("a b (1).md", "x](javascript:alert(1)).md", "javascript:alert(1).md", "<t>.md", "100%.md"):
        result = run(Source.expression("J = x", {"x": 1}), Options.make(out=str(tmp_path / name),
                                                                         renderer="embedded"))
        rendered = MD.render(result.files[-1][1])
        src = re.findall(r'<img src="([^"]*)"', rendered)
        assert len(src) == 1 and not re.match(r"[a-z]+:", src[0]), src       # a relative path, no scheme


# -- the escapers, property by property ----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_md_text_never_makes_markup(text):
    rendered = MD.render("# " + md_text(text))
    assert rendered.startswith("<h1>") and rendered.count("<") == 2       # <h1> and </h1>, nothing else
    assert html_module.unescape(rendered[4:-6]) == one_line(text).replace("\\", "\\")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fence_holds_any_text(text):
    text = text.replace("\r", "").replace("\x00", "")   # markdown-it reads NUL as U+FFFD, by the spec
    fence = md_fence(text)
    tokens = [t for t in MD.parse(f"{fence}text\n{text}\n{fence}\n") if t.type == "fence"]
    assert tokens and tokens[0].content == text + "\n"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_label_text_has_no_markup(text):
    escaped = html(text)
    assert not set("<>\"") & set(escaped) and not re.search(r"&(?!amp;|lt;|gt;|quot;)", escaped)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_terminal_and_latex_text_have_no_controls_or_commands(text):
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", terminal_text(text))
    escaped = tex_text(text)
    for command in ("textbackslash", "textasciitilde", "textasciicircum", "textless", "textgreater", "textbar"):
        escaped = escaped.replace(f"\\{command}{{}}", "")         # the escapes tex_text writes, and only those
    assert not re.search(r"\\[a-zA-Z]", escaped)


def test_latex_notes_refuse_names_pdflatex_cannot_set(tmp_path):
    result = invoke("expr", "J = é*x", "--at", "é=3, x=2", "-o", str(tmp_path / "c.tex"), "--no-figure")
    assert result.exit_code == 1 and "pdflatex cannot typeset" in result.output and list(tmp_path.iterdir()) == []
    assert invoke("expr", "J = é*x", "--at", "é=3, x=2", "-o", str(tmp_path / "c.md"), "--no-figure").exit_code == 0
    assert invoke("expr", "J = θ*x", "--at", "θ=3, x=2", "-o", str(tmp_path / "t.tex"), "--no-figure").exit_code == 0
