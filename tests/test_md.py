"""`bpviz md`: ```bpviz blocks of Markdown notes rendered in place, idempotently, never losing a note."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from bpviz import mdnotes
from bpviz.cli import app
from conftest import COLAH, NG, NG_AT_TEXT, ROOT
from notes_support import markdown_formulas, mathjax_errors

runner = CliRunner()

NOTE = f"""# Backprop study

Andrew Ng's graph:

```bpviz at="{NG_AT_TEXT}" highlight=w renderer=embedded
{NG}
```

A fan-out, with its derivation, in a quote:

> ~~~bpviz at="a=2, b=1" note renderer=embedded
> {COLAH}
> ~~~

- inside a list:

  ````bpviz at="x=3" renderer=embedded
  J = x**2
  ````

A spec:

```bpviz renderer=embedded
title: one neuron
graph:
  z: w*x + b
  J: sigmoid(z)
values: {{w: 2, x: 3, b: -1}}
```

Ordinary code stays as it is:

```python
print("not a bpviz block")
```
"""


def md(*args):
    return runner.invoke(app, ["md", *map(str, args)])


def note_in(tmp_path, text=NOTE, name="study.md") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def images(text: str) -> list:
    """The image sources of a note, as a CommonMark reader sees them."""
    found = []

    def walk(tokens):
        for token in tokens:
            if token.type == "image":
                found.append(unquote(token.attrs["src"]))     # markdown-it percent-encodes
            walk(token.children or [])
    walk(MarkdownIt("commonmark").parse(text))
    return found


def test_in_place_keeps_every_fence_and_links_an_image_after_it(tmp_path, golden):
    note = note_in(tmp_path)
    result = md(note, "--in-place")
    assert result.exit_code == 0, result.output
    text = note.read_text(encoding="utf-8")
    golden("md/in-place.md", text)
    for fence in ("```bpviz at=", "> ~~~bpviz", "  ````bpviz", "```python"):
        assert fence in text
    sources = images(text)
    assert len(sources) == 4
    for src in sources:
        assert re.fullmatch(r"assets/study-[0-9a-f]{12}\.svg", src)
        assert (tmp_path / src).read_text().lstrip().startswith(("<?xml", "<svg"))
    # markers carry the block's hash: sha256 of the info string, a newline and the body
    first = mdnotes.find_blocks(text)[0]
    assert f"<!-- bpviz:begin {first.hash} -->" in text
    assert first.hash == __import__("hashlib").sha256(
        f'bpviz at="{NG_AT_TEXT}" highlight=w renderer=embedded\n{NG}\n'.encode()).hexdigest()[:12]
    # the derivation asked for with `note` sits inside the quote, and its math typesets
    quoted = text[text.index("> ~~~bpviz"):text.index("- inside a list")]
    assert "## Backward pass" in quoted and all(line.startswith(">") for line in quoted.splitlines() if line)
    assert not mathjax_errors(markdown_formulas(text))


def test_second_run_changes_no_byte_and_renders_nothing(tmp_path):
    note = note_in(tmp_path)
    assert md(note, "--in-place").exit_code == 0
    first = note.read_bytes()
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "assets").iterdir()}
    report = mdnotes.process(mdnotes.Plan(note, note, tmp_path / "assets"))
    assert (report.blocks, report.rendered, report.changed) == (4, 0, False)
    result = md(note, "--in-place")
    assert result.exit_code == 0 and "unchanged" in result.output
    assert note.read_bytes() == first
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "assets").iterdir()} == stamps


def test_a_missing_image_or_an_edited_block_is_rendered_again(tmp_path):
    note = note_in(tmp_path)
    md(note, "--in-place")
    first = note.read_text(encoding="utf-8")
    victim = tmp_path / images(first)[0]
    victim.unlink()
    report = mdnotes.process(mdnotes.Plan(note, note, tmp_path / "assets"))
    assert report.rendered == 1 and victim.exists() and note.read_text(encoding="utf-8") == first
    note.write_text(first.replace("highlight=w", "highlight=b"), encoding="utf-8")
    report = mdnotes.process(mdnotes.Plan(note, note, tmp_path / "assets"))
    assert report.rendered == 1
    text = note.read_text(encoding="utf-8")
    assert text.count("<!-- bpviz:begin") == 4 and text.count("<!-- bpviz:end -->") == 4
    assert images(text)[0] != images(first)[0]


def test_out_replaces_fences_with_images_and_leaves_the_source(tmp_path, golden):
    note = note_in(tmp_path)
    out = tmp_path / "site" / "study.md"
    out.parent.mkdir()
    result = md(note, "-o", out)
    assert result.exit_code == 0, result.output
    assert note.read_text(encoding="utf-8") == NOTE
    text = out.read_text(encoding="utf-8")
    golden("md/out.md", text)
    assert "```bpviz" not in text and "~~~bpviz" not in text and "bpviz:begin" not in text
    assert "```python" in text
    for src in images(text):
        assert (out.parent / src).is_file()                 # assets beside OUT.md
    assert not (tmp_path / "assets").exists()


def test_out_of_an_already_rendered_note_drops_the_old_generated_parts(tmp_path):
    note = note_in(tmp_path)
    md(note, "--in-place")
    out = tmp_path / "copy.md"
    assert md(note, "-o", out).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert len(images(text)) == 4 and "bpviz:begin" not in text


def test_obsidian_embeds(tmp_path, golden):
    note = note_in(tmp_path)
    assert md(note, "--in-place", "--obsidian").exit_code == 0
    text = note.read_text(encoding="utf-8")
    golden("md/obsidian.md", text)
    embeds = re.findall(r"!\[\[(assets/study-[0-9a-f]{12}\.svg)\]\]", text)
    assert len(embeds) == 4 and all((tmp_path / e).is_file() for e in embeds)


def test_a_failing_block_leaves_the_others_rendered_and_says_where(tmp_path):
    text = NOTE.replace("J = x**2", "J = x ** q").replace("z: w*x + b", "z: w*x +")
    note = note_in(tmp_path, text)
    result = md(note, "--in-place")
    assert result.exit_code == 1
    lines = text.splitlines()
    fence_list = next(i for i, line in enumerate(lines, 1) if "````bpviz" in line)
    fence_spec = next(i for i, line in enumerate(lines, 1) if line.startswith("```bpviz renderer"))
    assert f"{note}:{fence_list}: no value for q" in result.output
    assert f"{note}:{fence_spec + 3}: " in result.output           # the spec's line 3, counted in the note
    written = note.read_text(encoding="utf-8")
    assert len(images(written)) == 2
    errors = re.findall(r"\*\*bpviz:\*\* .*", written)
    assert len(errors) == 2 and "at=q=" in errors[0] and str(tmp_path) not in written
    again = md(note, "--in-place")
    assert again.exit_code == 1 and note.read_text(encoding="utf-8") == written


def test_a_note_saved_while_rendering_is_not_clobbered(tmp_path):
    note = note_in(tmp_path)
    saved = NOTE + "\nA line the user typed meanwhile.\n"

    def render(*args):
        note.write_text(saved, encoding="utf-8")            # the editor saves mid-run
        return mdnotes.render_block(*args)
    with pytest.raises(mdnotes.BpvizError, match="changed on disk"):
        mdnotes.process(mdnotes.Plan(note, note, tmp_path / "assets"), render)
    assert note.read_text(encoding="utf-8") == saved
    assert not (tmp_path / "assets").exists()               # nothing was written, not even images


def test_prune_deletes_only_stale_images_of_this_note(tmp_path):
    note = note_in(tmp_path)
    md(note, "--in-place")
    old = set(images(note.read_text(encoding="utf-8")))
    note.write_text(note.read_text(encoding="utf-8").replace("at=\"x=3\"", "at=\"x=4\""), encoding="utf-8")
    keep = [tmp_path / "assets" / name for name in ("other-0123456789ab.svg", "study-notes.svg", "study-0123.svg")]
    for path in keep:
        path.write_text("<svg/>")
    result = md(note, "--in-place", "--prune")
    assert result.exit_code == 0 and "1 stale image removed" in result.output
    new = set(images(note.read_text(encoding="utf-8")))
    (gone,) = old - new
    assert not (tmp_path / gone).exists()
    assert all(path.exists() for path in keep) and all((tmp_path / src).exists() for src in new)


def test_spaces_and_chinese_in_paths(tmp_path):
    folder = tmp_path / "my notes"
    note = note_in(folder, "# 反向传播\n\n```bpviz at=\"w=2, x=3\" lang=zh note renderer=embedded\n"
                           "J = (w*x)**2\n```\n", name="笔记 一.md")
    result = md(folder, "--in-place")
    assert result.exit_code == 0, result.output
    text = note.read_text(encoding="utf-8")
    (src,) = images(text)
    assert "](<assets/笔记 一-" in text                      # a target with spaces goes in <…>
    assert (folder / src).is_file() and src.startswith("assets/笔记 一-")
    assert "反向传播" in text and "## 反向传播" in text or "前向" in text
    assert not mathjax_errors(markdown_formulas(text))


def test_a_note_without_blocks_is_left_untouched(tmp_path):
    note = note_in(tmp_path, "# Nothing here\n\n```python\nx = 1\n```\n")
    before = note.stat().st_mtime_ns
    result = md(note, "--in-place")
    assert result.exit_code == 0 and "no bpviz blocks" in result.output
    assert note.stat().st_mtime_ns == before and not (tmp_path / "assets").exists()


def test_folders_are_searched_for_notes(tmp_path):
    note_in(tmp_path / "a", name="one.md")
    note_in(tmp_path / "a" / "b", "```bpviz at=\"x=2\" renderer=embedded\nJ = x**3\n```\n", name="two.md")
    note_in(tmp_path / ".hidden", name="skip.md")
    result = md(tmp_path, "--in-place")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "assets").is_dir() and (tmp_path / "a" / "b" / "assets").is_dir()
    assert "bpviz:begin" not in (tmp_path / ".hidden" / "skip.md").read_text()


@pytest.mark.parametrize("args, message", [
    ((), "--in-place"),
    (("--in-place", "-o", "x.md"), "--in-place"),
    (("--in-place", "--format", "gif"), "svg or png"),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    note = note_in(tmp_path)
    result = md(note, *args)
    assert result.exit_code == 2 and message in result.output
    assert note.read_text(encoding="utf-8") == NOTE


def test_out_takes_one_note(tmp_path):
    note_in(tmp_path)
    result = md(tmp_path, "-o", tmp_path / "x.md")
    assert result.exit_code == 2 and "one note" in result.output
    result = md(tmp_path / "study.md", "-o", tmp_path / "study.md")
    assert result.exit_code == 2 and "--in-place" in result.output


@pytest.mark.parametrize("info, message", [
    ("bpviz out=x.svg", "not for blocks"),
    ("bpviz frames=d", "writes files"),
    ("bpviz colour=red", "unknown option 'colour'"),
    ("bpviz note=yes", "note is a flag"),
    ('bpviz at="x=1', "cannot read the block's options"),
    ("bpviz values=../secret.yaml", "inside the note's folder"),
    ("bpviz format=gif", "svg or png"),
    ("bpviz lr=0.1", "add the flag note"),
    ("bpviz set=a.b=1", "for YAML specs"),
    ("bpviz values=", "values needs a file name"),               # values errors name the file as written
    ("bpviz values=.", "not a regular file"),
    ("bpviz values=missing.yaml", "no such file beside the note"),
])
def test_bad_block_options_are_a_visible_error(tmp_path, info, message):
    note = note_in(tmp_path, f"```{info}\nJ = x**2\n```\n")
    result = md(note, "--in-place")
    assert result.exit_code == 1 and f"{note}:1: " in result.output and message in result.output
    text = note.read_text(encoding="utf-8")
    assert text.count("**bpviz:**") == 1 and "<!-- bpviz:end -->" in text
    assert str(tmp_path) not in text                               # no paths in a note


def test_values_file_beside_the_note_and_png_format(tmp_path):
    (tmp_path / "v.yaml").write_text("x: 3\n")
    note = note_in(tmp_path, "```bpviz values=v.yaml format=png renderer=embedded\nJ = x**2\n```\n")
    assert md(note, "--in-place").exit_code == 0
    (src,) = images(note.read_text(encoding="utf-8"))
    assert src.endswith(".png") and (tmp_path / src).read_bytes().startswith(b"\x89PNG")


def test_values_written_inside_the_program(tmp_path):
    note = note_in(tmp_path, "```bpviz renderer=embedded\nw = 2\nx = 3\nJ = (w*x)**2\n```\n")
    result = md(note, "--in-place")
    assert result.exit_code == 0, result.output
    assert "J = 36" in note.read_text(encoding="utf-8")        # the image title gives the output's value


def test_a_block_without_closing_fence_is_refused(tmp_path):
    note = note_in(tmp_path, "text\n\n```bpviz at=\"x=1\"\nJ = x**2\n")
    result = md(note, "--in-place")
    assert result.exit_code == 1 and "no closing fence" in result.output


def test_line_endings_and_a_missing_last_newline_are_kept(tmp_path):
    text = "# CRLF note\r\n\r\n```bpviz at=\"x=1\" renderer=embedded\r\nJ = x**2\r\n```"
    note = tmp_path / "crlf.md"
    note.write_bytes(text.encode())
    assert md(note, "--in-place").exit_code == 0
    data = note.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"") and not data.endswith(b"\r\n")
    assert md(note, "--in-place").exit_code == 0 and note.read_bytes() == data


def test_hostile_block_text_cannot_break_out_of_its_part(tmp_path):
    evil = "```bpviz at=\"x=1\"\nJ = x**2 <!-- bpviz:end --> <script>alert(1)</script>\n```\n"
    note = note_in(tmp_path, evil + "\n```bpviz renderer=embedded\n[x](javascript:alert(1)) = 1\n```\n")
    result = md(note, "--in-place")
    assert result.exit_code == 1
    text = note.read_text(encoding="utf-8")
    outside_code = re.sub(r"<code[^>]*>.*?</code>", "", MarkdownIt("commonmark").render(text), flags=re.S)
    assert "<script" not in outside_code and "javascript:" not in outside_code
    # the block holding marker text is refused and left alone; the other shows its error in place
    assert text.count("<!-- bpviz:begin") == 1 and text.count("<!-- bpviz:end -->\n") == 1
    assert "cannot hold a bpviz marker" in result.output
    assert md(note, "--in-place").exit_code == 1 and note.read_text(encoding="utf-8") == text


class Watcher:
    """`bpviz md --watch` as a subprocess, its standard error read by a thread so that every wait
    is bounded (a test never hangs on a read)."""

    def __init__(self, *args):
        import queue
        import threading
        self.lines: list = []
        self.queue: queue.Queue = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, "-m", "bpviz", "md", *map(str, args), "--in-place", "--watch"],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, fragment: str, timeout: float = 30) -> None:
        import queue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if fragment in line:
                return
        pytest.fail(f"no line with {fragment!r} from bpviz md --watch within {timeout} s: {self.lines}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=15)
        rest = []
        while not self.queue.empty():
            line = self.queue.get()
            if line is not None:
                rest.append(line)
        self.lines += rest
        assert code == 0, self.lines
        return "".join(rest)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def test_watch_renders_a_note_when_it_is_saved(tmp_path):
    note = note_in(tmp_path, "# Watched\n")
    watcher = Watcher(note)
    try:
        watcher.wait_for("watching 1 note")
        time.sleep(0.3)
        note.write_text("# Watched\n\n```bpviz at=\"x=2\" renderer=embedded\nJ = x**3\n```\n", encoding="utf-8")
        watcher.wait_for("1 block, 1 rendered")
        assert "bpviz:begin" in note.read_text(encoding="utf-8")
        time.sleep(0.6)                                     # time for a (wrong) second render to show
        rest = watcher.stop()
        assert "stopped watching" in rest and "Traceback" not in rest
        assert sum("rendered" in line for line in watcher.lines) == 1   # its own write did not trigger one
    finally:
        watcher.kill()


def test_watch_picks_up_a_new_note_in_a_watched_folder(tmp_path):
    note_in(tmp_path, "# First\n", name="first.md")
    watcher = Watcher(tmp_path)
    try:
        watcher.wait_for("watching 1 note")
        time.sleep(0.3)
        note_in(tmp_path, "```bpviz at=\"x=2\" renderer=embedded\nJ = x**3\n```\n", name="new.md")
        watcher.wait_for("new.md: 1 block, 1 rendered")
        assert (tmp_path / "assets").is_dir()
        watcher.stop()
    finally:
        watcher.kill()


def test_examples_notes_are_current(tmp_path):
    """examples/notes/ as `make demo` renders them: a copy rendered again changes nothing."""
    folder = tmp_path / "notes"
    shutil.copytree(ROOT / "examples" / "notes", folder)
    result = md(folder, "--in-place")
    assert result.exit_code == 0, result.output
    for note in sorted(folder.glob("*.md")):
        assert note.read_text(encoding="utf-8") == (ROOT / "examples" / "notes" / note.name).read_text(
            encoding="utf-8"), f"examples/notes/{note.name} is out of date: run make demo"


def test_the_library_graph_displays_itself_in_jupyter():
    import bpviz
    graph = bpviz.from_expression(COLAH, {"a": 2, "b": 1})
    svg = graph._repr_svg_()
    assert svg.startswith("<svg") and "2 + 3 = 5" in svg               # no XML prolog inside a page
    note = graph._repr_markdown_()
    assert "Backward pass" in note and not note.startswith("<!--")
    assert not mathjax_errors(markdown_formulas(note))
    html = graph._repr_html_()
    assert html.index("<svg") < html.index("Backward pass")
    # math left as TeX for the notebook's MathJax: the aligned line breaks and subscripts survive Markdown
    assert "\\\\\n&amp;= 2 \\cdot 1" in html or "\\\\\n&= 2 \\cdot 1" in html
    assert "t_{1}" in html and "<em>" not in html


def test_jupyter_reprs_of_graphs_too_large_to_draw_or_without_values():
    import bpviz
    big = bpviz.from_expression("; ".join(f"v{i} = v{i - 1} * x" if i else "v0 = x" for i in range(450)),
                                {"x": 1})
    assert big._repr_svg_() is None and "<svg" not in big._repr_html_()
    from bpviz.api import Source
    shapes = Source.expression("J = sum(X @ W)", shapes={"X": "(N,D)", "W": "(D,H)"}).build()
    assert shapes._repr_svg_().startswith("<svg")


# -- found by trying to break it ---------------------------------------------------------------------

def test_prune_keeps_images_that_another_note_of_the_same_name_links(tmp_path):
    for folder, body in (("a", "f = a*a"), ("b", "f = a+a")):
        note_in(tmp_path / folder, f"```bpviz at=\"a=1\" renderer=embedded\n{body}\n```\n", name="notes.md")
    shared = "../shared"
    assert md(tmp_path / "a", tmp_path / "b", "--in-place", "--assets", shared).exit_code == 0
    images_before = sorted(p.name for p in (tmp_path / "shared").iterdir())
    assert len(images_before) == 2
    result = md(tmp_path / "a", "--in-place", "--assets", shared, "--prune")
    assert result.exit_code == 0 and "removed" not in result.output
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == images_before
    again = md(tmp_path / "a", tmp_path / "b", "--in-place", "--assets", shared, "--prune")
    assert again.exit_code == 0 and "0 rendered" in again.output and "removed" not in again.output


def test_prune_removes_images_only(tmp_path):
    note = note_in(tmp_path, "```bpviz at=\"x=1\" renderer=embedded\nJ = x**2\n```\n", name="n.md")
    (tmp_path / "assets").mkdir()
    mine = tmp_path / "assets" / "n-0123456789ab.txt"
    mine.write_text("my own file")
    stale = tmp_path / "assets" / "n-0123456789ab.png"
    stale.write_bytes(b"\x89PNG")
    assert md(note, "--in-place", "--prune").exit_code == 0
    assert mine.exists() and not stale.exists()


def test_an_unclosed_fence_leaves_the_note_as_it_is(tmp_path):
    text = "# x\n\n```bpviz at=\"a=1,b=2\"\nf = a*b\n"
    note = note_in(tmp_path, text, name="u.md")
    for _ in range(2):
        result = md(note, "--in-place")
        assert result.exit_code == 1 and f"{note}:3: " in result.output and "no closing fence" in result.output
        assert note.read_text(encoding="utf-8") == text


def test_a_changed_values_file_renders_the_block_again(tmp_path):
    values = tmp_path / "vals.yaml"
    values.write_text("a: 1\nb: 2\n")
    note = note_in(tmp_path, "```bpviz values=vals.yaml renderer=embedded\nf = a*b\n```\n", name="v.md")
    assert md(note, "--in-place").exit_code == 0
    assert '"f = 2' in note.read_text(encoding="utf-8")
    time.sleep(0.01)
    values.write_text("a: 5\nb: 2\n")
    os.utime(values, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    result = md(note, "--in-place")
    assert result.exit_code == 0 and "1 rendered" in result.output
    assert '"f = 10' in note.read_text(encoding="utf-8")


def test_fifos_are_neither_notes_nor_values(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")
    os.mkfifo(tmp_path / "pipe.yaml")
    note_in(tmp_path, "```bpviz values=pipe.yaml\nJ = x**2\n```\n", name="n.md")
    done = subprocess.run([sys.executable, "-m", "bpviz", "md", str(tmp_path), "--in-place"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "values=pipe.yaml: not a regular file" in done.stderr
    assert "pipe.md" not in done.stderr


def test_out_of_a_note_without_blocks_is_a_copy(tmp_path):
    note = note_in(tmp_path, "# Plain\n", name="plain.md")
    out = tmp_path / "copy.md"
    result = md(note, "-o", out)
    assert result.exit_code == 0 and out.read_text(encoding="utf-8") == "# Plain\n"


def test_switching_link_style_and_force_render_again(tmp_path):
    note = note_in(tmp_path, "```bpviz at=\"x=1\" renderer=embedded\nJ = x**2\n```\n", name="n.md")
    md(note, "--in-place")
    result = md(note, "--in-place", "--obsidian")
    assert result.exit_code == 0 and "1 rendered" in result.output and "![[assets/" in note.read_text()
    result = md(note, "--in-place")
    assert "1 rendered" in result.output and "![[" not in note.read_text()
    assert "0 rendered" in md(note, "--in-place").output
    assert "1 rendered" in md(note, "--in-place", "--force").output


def test_messages_in_blocks_use_block_options_and_stay_short(tmp_path):
    assert mdnotes._in_block_terms("add --large to draw it, or write -o FILE.dot") == \
        "add large to draw it, or write -o FILE.dot"
    note = note_in(tmp_path, f"```bpviz {'x' * 5000}=1\nJ = x**2\n```\n")
    result = md(note, "--in-place")
    assert result.exit_code == 1 and len(note.read_text(encoding="utf-8")) < 6000 + 400
    assert "x" * 41 not in result.output


def test_a_note_with_too_many_blocks_is_refused_before_any_render(tmp_path):
    block = "```bpviz at=\"x=1\"\nJ = x**2\n```\n\n"
    note = note_in(tmp_path, block * (mdnotes.MAX_BLOCKS + 1), name="many.md")
    result = md(note, "--in-place")
    assert result.exit_code == 1 and "more than the 500" in result.output
    assert not (tmp_path / "assets").exists() and "bpviz:begin" not in note.read_text()


def test_a_nul_in_a_block_is_named_as_such(tmp_path):
    note = tmp_path / "nul.md"
    note.write_bytes(b"```bpviz at=\"x=1\"\nJ = x\x00*2\n```\n")
    result = md(note, "--in-place")
    assert result.exit_code == 1 and "NUL character (U+0000)" in result.output
    assert note.read_bytes() == b"```bpviz at=\"x=1\"\nJ = x\x00*2\n```\n"


TWICE = ("# A\n\n```bpviz at=\"w=2, x=3\" renderer=embedded\nJ = w*x\n```\n\nSame graph again:\n\n"
         "```bpviz at=\"w=2, x=3\" renderer=embedded\nJ = w*x\n```\n")


def test_identical_blocks_share_one_image_drawn_once(tmp_path):
    note = note_in(tmp_path, TWICE, name="twice.md")
    calls = []

    def render(*args):
        calls.append(args[0].line)
        return mdnotes.render_block(*args)
    report = mdnotes.process(mdnotes.Plan(note, note, tmp_path / "assets"), render)
    assert not report.failures and calls == [3]
    text = note.read_text(encoding="utf-8")
    first, second = images(text)
    assert first == second and (tmp_path / first).is_file()
    assert os.listdir(tmp_path / "assets") == [first.split("/")[1]]
    again = md(note, "--in-place", "--prune")                # nothing changes, and the shared image stays
    assert again.exit_code == 0 and "unchanged" in again.output and "removed" not in again.output
    assert note.read_text(encoding="utf-8") == text and (tmp_path / first).is_file()
    out = tmp_path / "site" / "out.md"
    result = md(note, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(set(images(out.read_text(encoding="utf-8")))) == 1


def test_two_different_blocks_with_one_image_name_fail_at_the_second_block(tmp_path, monkeypatch):
    monkeypatch.setattr(mdnotes.Block, "hash", property(lambda self: "0123456789ab"))    # a hash collision
    text = TWICE.replace("w*x\n```\n\nSame", "w*x + 1\n```\n\nSame")
    note = note_in(tmp_path, text, name="twice.md")
    result = md(note, "--in-place")
    assert result.exit_code == 1
    second = text.splitlines().index("Same graph again:") + 3
    assert f"{note}:{second}: this block's image would be assets/twice-0123456789ab.svg" in result.output
    assert "the block at line 3" in result.output
    written = note.read_text(encoding="utf-8")
    assert len(images(written)) == 1 and written.count("**bpviz:**") == 1
    assert '"J = 7;' in written and os.listdir(tmp_path / "assets") == ["twice-0123456789ab.svg"]


def test_out_to_a_device_is_refused_before_anything_is_written(tmp_path):
    note = note_in(tmp_path, "```bpviz at=\"x=1\"\nJ = x**2\n```\n", name="n.md")
    for device in ("/dev/full", "/dev/null"):
        link = tmp_path / "out.md"                           # a link, so no run could write under /dev
        link.unlink(missing_ok=True)
        link.symlink_to(device)
        result = md(note, "-o", link)
        assert result.exit_code == 1 and f"-o {link}: not a regular file" in result.output, result.output
        assert "-o -" in result.output and "Traceback" not in result.output
        assert sorted(os.listdir(tmp_path)) == ["n.md", "out.md"]
    os.mkfifo(tmp_path / "pipe.md")
    result = md(note, "-o", tmp_path / "pipe.md")
    assert result.exit_code == 1 and "not a regular file (a device or a pipe)" in result.output
    assert sorted(os.listdir(tmp_path)) == ["n.md", "out.md", "pipe.md"]


def test_out_to_standard_output_puts_images_in_the_current_folder(tmp_path, monkeypatch):
    note = note_in(tmp_path / "notes", "```bpviz at=\"x=1\" renderer=embedded\nJ = x**2\n```\n", name="n.md")
    monkeypatch.chdir(tmp_path)
    result = md(note, "-o", "-")
    assert result.exit_code == 0, result.output
    (src,) = images(result.stdout)
    assert src.startswith("assets/n-") and (tmp_path / src).is_file()
    shutil.rmtree(tmp_path / "assets")
    with open("/dev/full", "wb") as full:                  # standard output fails: no image is left behind
        done = subprocess.run([sys.executable, "-m", "bpviz", "md", str(note), "-o", "-"], cwd=tmp_path,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and "cannot write standard output" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["notes"]


def test_in_place_through_standard_input_is_refused(tmp_path):
    real = note_in(tmp_path / "real", "```bpviz at=\"x=1\"\nJ = x**2\n```\n", name="m.md")
    (tmp_path / "in.md").symlink_to("/dev/stdin")
    for name in ("in.md", str(tmp_path / "in.md")):          # a link in tmp_path: no run writes under /dev
        with open(real, "rb") as stdin:
            done = subprocess.run([sys.executable, "-m", "bpviz", "md", name, "--in-place"], cwd=tmp_path,
                                  stdin=stdin, capture_output=True, text=True, timeout=60,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 1 and f"{name}: not a regular file" in done.stderr, done.stderr
        assert "--in-place" in done.stderr and len(done.stderr.splitlines()) == 1
        assert "bpviz:begin" not in real.read_text(encoding="utf-8")
        assert sorted(os.listdir(tmp_path)) == ["in.md", "real"] and os.listdir(tmp_path / "real") == ["m.md"]


def test_a_symlinked_note_gets_its_images_beside_the_real_file(tmp_path):
    real = note_in(tmp_path / "real", "```bpviz at=\"x=1\" renderer=embedded\nJ = x**2\n```\n", name="n.md")
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "n.md"
    link.symlink_to(real)
    result = md(link, "--in-place")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and not (tmp_path / "links" / "assets").exists()
    (src,) = images(real.read_text(encoding="utf-8"))
    assert (real.parent / src).is_file()
    out = tmp_path / "site" / "out.md"                      # -o to a link: the images go beside its target
    out.parent.mkdir()
    (tmp_path / "links" / "out.md").symlink_to(out)
    assert md(real, "-o", tmp_path / "links" / "out.md").exit_code == 0
    (src,) = images(out.read_text(encoding="utf-8"))
    assert (out.parent / src).is_file() and not (tmp_path / "links" / "assets").exists()


@pytest.mark.parametrize("name, assets, char", [("x]]|y.md", "assets", "]"), ("C# notes.md", "assets", "#"),
                                                ("n.md", "a]]b|c", "]"), ("n.md", "a|b", "|"),
                                                ("n^1.md", "assets", "^"), ("n[1.md", "assets", "[")])
def test_obsidian_refuses_names_its_embeds_cannot_hold(tmp_path, name, assets, char):
    text = "```bpviz at=\"x=1\" renderer=embedded\nJ = x**2\n```\n"
    note = note_in(tmp_path, text, name=name)
    result = md(note, "--in-place", "--obsidian", "--assets", assets)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert f"{note}: " in result.output and f"'{char}'" in result.output and "--obsidian" in result.output
    assert note.read_text(encoding="utf-8") == text and os.listdir(tmp_path) == [name]
    result = md(note, "--in-place", "--assets", assets)     # ordinary links escape them
    assert result.exit_code == 0, result.output
    (src,) = images(note.read_text(encoding="utf-8"))
    assert (tmp_path / src).is_file()


def test_watch_goes_on_past_a_named_pipe_called_md(tmp_path):
    """A FIFO named e.md in a watched folder blocked the watch's read for ever: no later save rendered."""
    note = note_in(tmp_path, "```bpviz at=\"w=2\" renderer=embedded\nJ = w*w\n```\n", name="a.md")
    watcher = Watcher(tmp_path)
    try:
        watcher.wait_for("watching 1 note")
        time.sleep(0.3)
        os.mkfifo(tmp_path / "e.md")
        time.sleep(0.6)
        note.write_text("```bpviz at=\"w=7\" renderer=embedded\nJ = w*w\n```\n", encoding="utf-8")
        watcher.wait_for("a.md: 1 block, 1 rendered")
        assert "w=7" in note.read_text(encoding="utf-8")
        watcher.stop()
    finally:
        watcher.kill()


def test_in_place_and_out_together_are_named_as_two_answers(tmp_path):
    note = note_in(tmp_path, "# A\n")
    result = CliRunner().invoke(app, ["md", str(note), "--in-place", "-o", str(tmp_path / "b.md")])
    assert result.exit_code == 2 and "--in-place and -o both say where the result goes" in result.output
