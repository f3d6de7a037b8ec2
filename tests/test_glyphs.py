"""Every glyph drawn, in every language, and figures that read in greyscale (issue 13, items 8 and 9).

PNG and PDF figures are drawn from the SVG by cairosvg with fallback fonts (bpviz.fonts): these
tests check, independently of bpviz's own font code where they can (fontconfig's fc-list/fc-match),
that every character of a figure is drawn by a font that has it, that a glyph drawn is the glyph
and not a missing-glyph box, that Chinese labels do not collide, and that the value and gradient
rows differ in grey, not only in hue. A machine without a Chinese font skips the Chinese tests and
says so; `make test` (.ci/run) installs Debian's fonts-noto-cjk.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from html import unescape

import pytest
from typer.testing import CliRunner

import bpviz
from bpviz import fonts
from bpviz.cli import app
from bpviz.render.dot import PALETTES, FigureOptions, render_dot
from bpviz.write import MAX_PNG_PIXELS, choose_renderer, cairo_missing, draw_svg, find_system, render_svg
from conftest import NG, NG_AT

runner = CliRunner()
ZH = "价格 = 苹果 * 数量"
ZH_AT = {"苹果": 100, "数量": 2}
RELU = "L = relu(w1*x1 + w2*x2 + b)"
RELU_AT = {"w1": 2, "x1": 1, "w2": -1, "x2": 3, "b": "0.5"}
LONG_ZH = "总价格 = 苹果的单价 * 购买的苹果数量"      # long captions: ∂总价格/∂购买的苹果数量 next to its number
LONG_ZH_AT = {"苹果的单价": 1234567, "购买的苹果数量": 3}

Image = pytest.importorskip("PIL.Image")
needs_cairo = pytest.mark.skipif(cairo_missing() is not None, reason=f"no cairo: {cairo_missing()}")
needs_fc_tools = pytest.mark.skipif(not (shutil.which("fc-list") and shutil.which("fc-match")),
                                    reason="fontconfig's fc-list/fc-match are not installed (Debian: fontconfig)")


def _cjk_font() -> str | None:
    if not shutil.which("fc-list"):
        return None
    out = subprocess.run(["fc-list", ":charset=4ef7 683c", "family"], capture_output=True, text=True).stdout
    return out.splitlines()[0].split(",")[0] if out.strip() else None


needs_cjk = pytest.mark.skipif(_cjk_font() is None, reason="no font with Chinese characters is installed "
                                                           "(Debian: apt-get install fonts-noto-cjk; make test does)")


def renderers() -> list:
    kinds = ["embedded"]
    if find_system():
        kinds.append("system")
    return kinds


def _figure_svg(program: str, values: dict, renderer: str, **options) -> str:
    graph = bpviz.from_expression(program, values)
    return render_svg(render_dot(graph, FigureOptions(**options)), choose_renderer(renderer)).decode("utf-8")


TEXT = re.compile(r"<text\b([^>]*)>([^<]*)</text>")
ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


def _texts(svg: str) -> list:
    """(attributes, text) of every text element."""
    return [(dict(ATTR.findall(a)), unescape(t)) for a, t in TEXT.findall(svg)]


# -- item 8: every glyph drawn ---------------------------------------------------------------------

@lru_cache(maxsize=None)
def _file_of(family: str, bold: bool) -> str:
    """The font file fontconfig (and so cairo) gives a family, by fc-match: independent of bpviz."""
    spec = f"{family}:weight={200 if bold else 80}"
    return subprocess.run(["fc-match", "-f", "%{file}", spec], capture_output=True, text=True).stdout


@lru_cache(maxsize=None)
def _files_with(char: str) -> frozenset:
    out = subprocess.run(["fc-list", f":charset={ord(char):x}", "file"], capture_output=True, text=True).stdout
    return frozenset(line.strip().rstrip(":") for line in out.splitlines() if line.strip())


def _undrawable(svg: str) -> list:
    """(character, font file) for every character of the drawn SVG whose font has no glyph for it."""
    bad = []
    for attrs, text in _texts(svg):
        path = _file_of(attrs.get("font-family", "Times-Roman"), attrs.get("font-weight") == "bold")
        for char in text:
            if char.isspace() or not char.isprintable():
                continue
            if path not in _files_with(char):
                bad.append((char, os.path.basename(path)))
    return bad


@needs_cairo
@needs_fc_tools
@needs_cjk
@pytest.mark.parametrize("renderer", renderers())
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_character_of_a_chinese_figure_is_drawn_by_a_font_that_has_it(renderer, theme):
    svg = _figure_svg(ZH, ZH_AT, renderer, theme=theme, lang="zh")
    before = _undrawable(svg)
    assert any(c == "价" for c, _ in before), "the figure's own font (Arial) was expected to lack 价"
    drawn = fonts.with_fallback_fonts(svg)
    assert _undrawable(drawn) == []
    assert "价格" in "".join(t for _, t in _texts(drawn)) and "前向计算的值" in drawn


@needs_cairo
@needs_fc_tools
@pytest.mark.parametrize("renderer", renderers())
@pytest.mark.parametrize("program, values", [(RELU, RELU_AT), (NG, NG_AT),
                                             ("Z = X @ W + b; A = relu(Z); J = mean(A*A)",
                                              {"X": [[1, 2], [3, 4]], "W": [[1, 0], [0, 1]], "b": [1, -1]})])
def test_every_character_of_an_english_figure_is_drawn_by_a_font_that_has_it(renderer, program, values):
    """ℝ, ᵀ, ◦, ∂, the bar of X̄: the fallback fonts draw what Arial (Liberation Sans) lacks."""
    drawn = fonts.with_fallback_fonts(_figure_svg(program, values, renderer))
    assert _undrawable(drawn) == []


def _glyph(char: str, family: str, raw: bool = False) -> "Image.Image":
    """``char`` alone, 48 pt, in ``family``: through bpviz's drawing (fallback fonts), or ``raw``
    through cairosvg alone, which draws a missing glyph as a box."""
    svg = (f'<svg width="72pt" height="72pt" viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
           f'<text x="12" y="56" font-family="{family}" font-size="48">{char}</text></svg>')
    if raw:
        import cairosvg
        data = cairosvg.svg2png(bytestring=svg.encode("utf-8"), output_width=144, output_height=144,
                                background_color="white")
    else:
        data = draw_svg(svg.encode("utf-8"), "png", 144)
    return _grey(Image.open(io.BytesIO(data)))


def _grey(image) -> "Image.Image":
    if image.mode in ("RGBA", "LA"):
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return image.convert("L")


def _difference(a, b) -> float:
    """Mean absolute difference of two greyscale images, 0 to 255."""
    pixels = list(zip(a.tobytes(), b.tobytes()))
    return sum(abs(x - y) for x, y in pixels) / len(pixels)


def _reference_family(char: str) -> str:
    """The family fontconfig itself prefers for ``char`` in Chinese text (what Pango or a browser
    would draw it with), by fc-match: independent of bpviz."""
    out = subprocess.run(["fc-match", "-s", "-f", "%{family[0]}\t%{file}\n", "Arial:lang=zh-cn"],
                         capture_output=True, text=True).stdout
    return next(family for family, path in (line.split("\t") for line in out.splitlines() if "\t" in line)
                if path in _files_with(char))


@needs_cairo
@needs_fc_tools
@needs_cjk
@pytest.mark.parametrize("char", ["价", "苹", "值"])
def test_a_chinese_glyph_is_the_glyph_of_a_chinese_font_not_a_box(char):
    """Drawn in a figure's font (Arial), the character is pixel for pixel the one fontconfig's
    Chinese font draws, and not cairo's missing-glyph box (what PNGs showed before)."""
    ours = _glyph(char, "Arial")
    reference = _glyph(char, _reference_family(char), raw=True)
    box = _glyph(char, "Arial", raw=True)
    assert _difference(box, reference) > 5, "cairo was expected to draw a box for 价 in Arial"
    assert _difference(ours, reference) < 0.5
    assert _difference(ours, box) > 5


@needs_cairo
@needs_cjk
@pytest.mark.parametrize("renderer", renderers())
def test_chinese_png_with_lang_zh_renders_and_is_deterministic(tmp_path, renderer):
    outs = [tmp_path / f"zh{i}.png" for i in range(2)]
    for out in outs:
        result = runner.invoke(app, ["expr", ZH, "--at", "苹果=100", "--at", "数量=2", "--lang", "zh",
                                     "-o", str(out), "--renderer", renderer])
        assert result.exit_code == 0, result.output
    data = outs[0].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data == outs[1].read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 400 < width < 3000 and 300 < height < 2000, (width, height)


@needs_cairo
def test_png_keeps_its_size_limit():
    chain = "; ".join(f"v{i} = v{i - 1} * w{i}" for i in range(1, 60)) + "; J = v59 * 2"
    values = {"v0": 1, **{f"w{i}": 1 for i in range(1, 60)}}
    svg = _figure_svg(chain, values, "embedded")
    image = Image.open(io.BytesIO(draw_svg(svg.encode("utf-8"), "png", 600)))
    assert max(image.size) <= MAX_PNG_PIXELS and max(image.size) > MAX_PNG_PIXELS - 10


def _boxes(svg: str) -> list:
    """Each text element's ink box (left, top, right, bottom) from its real glyph advances, as the
    renderer placed it: what collides when a renderer underestimates a width."""
    boxes = []
    for attrs, text in _texts(svg):
        size = float(attrs.get("font-size", "14"))
        bold = attrs.get("font-weight") == "bold"
        width = 0.0
        for char in text:
            font = fonts.font_for(char, attrs.get("font-family", "Arial"), bold) if not char.isspace() else None
            width += fonts.advance(char, font.family if font else attrs.get("font-family", "Arial"), size, bold)
        x, y = float(attrs["x"]), float(attrs["y"])
        anchor = attrs.get("text-anchor", "start")
        left = x - (width / 2 if anchor == "middle" else width if anchor == "end" else 0)
        if text.strip():
            boxes.append((left, y - 0.75 * size, left + width, y + 0.2 * size, text))
    return boxes


def _collisions(svg: str) -> list:
    boxes, found = _boxes(svg), []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap_x = min(a[2], b[2]) - max(a[0], b[0])
            overlap_y = min(a[3], b[3]) - max(a[1], b[1])
            if overlap_x > 0.5 and overlap_y > 0.5:
                found.append((a[4], b[4], round(overlap_x, 1)))
    return found


@needs_cairo
@needs_cjk
@pytest.mark.parametrize("renderer", renderers())
def test_chinese_captions_do_not_collide_with_their_numbers(renderer):
    """graphviz-pure sizes a Chinese character as 0.83 em (it is 1 em): without bpviz's padding the
    long caption ∂总价格/∂购买的苹果数量 ran into its number."""
    svg = _figure_svg(LONG_ZH, LONG_ZH_AT, renderer, lang="zh")
    assert _collisions(svg) == []


@needs_cairo
@needs_cjk
def test_without_padding_the_embedded_renderer_would_collide():
    """The test above can fail: the same figure laid out by graphviz-pure without the padding."""
    from bpviz.write import _run_renderer
    graph = bpviz.from_expression(LONG_ZH, LONG_ZH_AT)
    svg = _run_renderer(choose_renderer("embedded"), render_dot(graph, FigureOptions(lang="zh")), "svg", [],
                        60).decode("utf-8")
    assert _collisions(svg)


def test_padding_is_invisible_and_taken_out():
    dot = '\tn0 [label=<<b>价格</b> and <i>总价格总价格</i>>]'
    padded = fonts.pad_wide(dot)
    assert padded.count(fonts.PAD) == 1 + 2 and fonts.unpad(padded) == dot      # 2 and 6 characters
    assert fonts.pad_wide('\tn0 [label=<<b>w1</b> θ ∂J/∂w>]') == '\tn0 [label=<<b>w1</b> θ ∂J/∂w>]'


@needs_cairo
def test_a_combining_bar_sits_over_its_letter():
    """X̄ (X and U+0304): cairosvg would draw the bar after the X, in the X's top; it is placed over it."""
    svg = '<text text-anchor="start" x="10" y="50" font-family="Arial" font-size="20">X\u0304 = 1</text>'
    parts = _texts(fonts.with_fallback_fonts(svg))
    bar = next((a, t) for a, t in parts if t == "\u0304")
    letter = next((a, t) for a, t in parts if t.startswith("X"))
    assert float(bar[0]["y"]) < 50 - 2                                  # raised clear of the X
    assert 10 <= float(bar[0]["x"]) + 3 and float(bar[0]["x"]) < 10 + 14     # over it, not after it
    assert letter[1] == "X = 1"


def test_lang_zh_translates_the_legend_and_captions():
    graph = bpviz.from_expression(NG, NG_AT)
    zh, en = render_dot(graph, FigureOptions(lang="zh")), render_dot(graph, FigureOptions())
    assert "前向计算的值" in zh and ">值</font>" in zh and "局部偏导数" in zh
    assert "forward value" in en and ">value</font>" in en
    assert re.search(r"the edge \w+ → J shows ∂J/∂\w+", en)
    assert "forward value" not in zh


def test_lang_zh_applies_to_figures_and_not_to_json(tmp_path):
    ok = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "--lang", "zh", "-f", "dot", "-o", "-"])
    assert ok.exit_code == 0 and "前向计算的值" in ok.stdout
    refused = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "--lang", "zh",
                                  "-o", str(tmp_path / "j.json")])
    assert refused.exit_code == 2 and "--lang applies to notes, figures" in refused.output


@needs_cairo
@needs_fc_tools
def test_a_glyph_no_font_has_is_an_error_not_a_box(tmp_path):
    """With fontconfig limited to Latin fonts, a Chinese PNG is refused with the fix, and doctor
    says Chinese does not render; nothing is written."""
    latin = os.path.dirname(_file_of("Arial", False))
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f'<dir>{latin}</dir><cachedir>{tmp_path / "cache"}</cachedir></fontconfig>')
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    out = tmp_path / "zh.png"
    command = [sys.executable, "-m", "bpviz", "expr", ZH, "--at", "苹果=100", "--at", "数量=2", "-o", str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "no installed font has 价" in proc.stderr and "fonts-noto-cjk" in proc.stderr
    assert not out.exists()
    doctor = subprocess.run([sys.executable, "-m", "bpviz", "doctor"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert re.search(r"Chinese.*no font has 价", doctor.stdout, re.S), doctor.stdout


@needs_cairo
@needs_cjk
def test_doctor_names_the_fonts_and_says_chinese_renders():
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0
    assert "Fonts for PNG and PDF" in result.output
    chinese = next(line for line in result.output.splitlines() if "Chinese" in line)
    assert "yes" in chinese and "CJK" in result.output


# -- item 9: greyscale --------------------------------------------------------------------------------

def _luma(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b           # what PIL's convert("L") computes


def _contrast(a: str, b: str) -> float:
    def lum(h):
        c = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    x, y = sorted((lum(a), lum(b)))
    return (y + 0.05) / (x + 0.05)


@pytest.mark.parametrize("theme", sorted(PALETTES))
def test_palette_rows_differ_in_grey_and_every_text_reads(theme):
    p = PALETTES[theme]
    assert abs(_luma(p["value_bg"]) - _luma(p["grad_bg"])) >= 20
    for text, band in (("value", "value_bg"), ("grad", "grad_bg"), ("muted", "value_bg"), ("muted", "grad_bg"),
                       ("muted", "fill"), ("text", "header")):
        assert _contrast(p[text], p[band]) >= 4.5, (text, band)


def test_gradients_are_bold_and_values_are_not():
    source = render_dot(bpviz.from_expression(NG, NG_AT))
    p = PALETTES["light"]
    assert re.search(f'color="{p["grad"]}"><b>−4</b>', source)              # ∂J/∂w
    assert re.search(f'color="{p["value"]}">−4</font>', source)             # c's value, regular
    assert not re.search(f'color="{p["value"]}"><b>', source)


def _band_greys(svg: str, png: bytes, dpi: int, colour: str) -> list:
    """The most common grey inside each band of ``colour`` (a card row's background), in the PNG."""
    image = _grey(Image.open(io.BytesIO(png)))
    tx, ty = map(float, re.search(r'translate\(([-\d.]+) ([-\d.]+)\)', svg).groups())
    scale = image.size[0] / float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
    greys = []
    for points in re.findall(rf'<polygon fill="{colour}"[^>]*points="([^"]+)"', svg):
        xy = [tuple(map(float, p.split(","))) for p in points.split()]
        xs, ys = [x for x, _ in xy], [y for _, y in xy]
        box = tuple(round((v + t) * scale) for v, t in ((min(xs), tx), (min(ys), ty), (max(xs), tx), (max(ys), ty)))
        box = (box[0] + 2, box[1] + 2, box[2] - 2, box[3] - 2)
        if box[2] > box[0] and box[3] > box[1]:
            counts = image.crop(box).getcolors(1 << 16)
            greys.append(max(counts)[1])
    return greys


@needs_cairo
@pytest.mark.parametrize("renderer", renderers())
@pytest.mark.parametrize("theme", sorted(PALETTES))
def test_value_and_gradient_rows_differ_in_greyscale_png(renderer, theme):
    """Rendered to PNG and converted to grey, every gradient row is at least 18 grey levels away
    from every value row (they were 1 apart: 241.7 against 240.6)."""
    p = PALETTES[theme]
    svg = _figure_svg(NG, NG_AT, renderer, theme=theme)
    png = draw_svg(svg.encode("utf-8"), "png", 144)
    values, grads = _band_greys(svg, png, 144, p["value_bg"]), _band_greys(svg, png, 144, p["grad_bg"])
    assert len(values) >= 7 and len(grads) >= 7            # every card's rows (and the legend's swatches)
    assert min(abs(v - g) for v in values for g in grads) >= 18, (values, grads)
