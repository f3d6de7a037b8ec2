"""Fonts for figures drawn into PNG and PDF: which installed font draws each character, and the
SVG rewritten so that cairosvg draws every glyph.

cairosvg draws a ``<text>`` element in the one font its ``font-family`` names (cairo's "toy" text
API has no fallback), so a Chinese name in an Arial label came out as boxes. Here every text run
the named font cannot draw goes to the first installed font that can, in fontconfig's own order of
preference (Chinese first for Han characters, as a browser or Pango would choose), and is placed
at the x the run's real glyph advances give. Nothing here depends on anything but fontconfig and
cairo, which cairosvg needs anyway; without them the SVG is left as it is.

The embedded renderer (graphviz-pure) sizes text from Arial's widths and counts every byte of a
non-ASCII character as a space: 0.83 em for a CJK character that is 1 em wide, so Chinese labels
would overflow their cells. ``pad_wide`` adds invisible markers that make it reserve the real
width; ``unpad`` takes them out of its SVG.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import html as _html
import math
import re
import unicodedata
from functools import lru_cache
from typing import Optional

# -- the embedded renderer's width estimate -------------------------------------------------------

PAD = "\u034f"              # COMBINING GRAPHEME JOINER: invisible, 2 UTF-8 bytes = 0.556 em to the estimator
_SPACE_EM = 0.2779          # Arial's space: the estimator's width of every byte of a non-ASCII character
_SEGMENT = re.compile(r">([^<>]*)<")


def _deficit_em(char: str) -> float:
    """How much wider ``char`` is than the estimate, in em (0 when the estimate is wide enough)."""
    if char < "\x80":
        return 0.0
    estimate = _SPACE_EM * len(char.encode("utf-8"))
    if unicodedata.east_asian_width(char) in "WF":
        real = 1.0                              # CJK ideographs, kana, hangul, full-width forms
    elif unicodedata.category(char) == "Lu" and len(char.encode("utf-8")) == 2:
        real = 0.8                              # capitals of Greek, Cyrillic, accented Latin (Ж, Ш, Ω)
    else:
        real = estimate                         # symbols (∂ ℝ → ×) are estimated wider than they are
    return max(0.0, real - estimate)


def pad_wide(dot_source: str) -> str:
    """DOT whose text segments carry enough PAD markers for graphviz-pure to reserve their real width.

    >>> pad_wide('a [label=<<b>价格</b>>]') == 'a [label=<<b>价格' + PAD + '</b>>]'
    True
    >>> pad_wide('a [label=<<b>x1</b>>]')
    'a [label=<<b>x1</b>>]'
    """
    def pad(match: re.Match) -> str:
        text = match.group(1)
        deficit = sum(_deficit_em(c) for c in text)
        if deficit <= 0.05:
            return match.group(0)
        count = math.ceil(deficit / (_SPACE_EM * len(PAD.encode("utf-8"))))
        return f">{text}{PAD * count}<"
    return _SEGMENT.sub(pad, dot_source)


def unpad(svg: str) -> str:
    return svg.replace(PAD, "")


def needs_padding(text: str) -> bool:
    return any(_deficit_em(c) > 0 for c in text)


# -- fontconfig, through ctypes --------------------------------------------------------------------

class _FontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int), ("fonts", ctypes.POINTER(ctypes.c_void_p))]


class _Fontconfig:
    """The few fontconfig calls cairo makes to choose a font, and a font's coverage."""

    def __init__(self):
        name = ctypes.util.find_library("fontconfig") or "libfontconfig.so.1"
        lib = ctypes.CDLL(name)
        p, i = ctypes.c_void_p, ctypes.c_int
        lib.FcInit.restype = i
        lib.FcNameParse.restype, lib.FcNameParse.argtypes = p, [ctypes.c_char_p]
        lib.FcConfigSubstitute.restype, lib.FcConfigSubstitute.argtypes = i, [p, p, i]
        lib.FcDefaultSubstitute.restype, lib.FcDefaultSubstitute.argtypes = None, [p]
        lib.FcFontMatch.restype, lib.FcFontMatch.argtypes = p, [p, p, ctypes.POINTER(i)]
        lib.FcFontSort.restype = ctypes.POINTER(_FontSet)
        lib.FcFontSort.argtypes = [p, p, i, p, ctypes.POINTER(i)]
        lib.FcPatternGetString.restype = i
        lib.FcPatternGetString.argtypes = [p, ctypes.c_char_p, i, ctypes.POINTER(ctypes.c_char_p)]
        lib.FcPatternGetCharSet.restype = i
        lib.FcPatternGetCharSet.argtypes = [p, ctypes.c_char_p, i, ctypes.POINTER(p)]
        lib.FcCharSetHasChar.restype, lib.FcCharSetHasChar.argtypes = i, [p, ctypes.c_uint32]
        lib.FcPatternDestroy.restype, lib.FcPatternDestroy.argtypes = None, [p]
        if not lib.FcInit():
            raise OSError("fontconfig did not initialise")
        self.lib = lib
        self.keep: list = []            # patterns whose charsets are in use: never freed (a few per run)

    def _pattern(self, spec: str):
        pattern = self.lib.FcNameParse(spec.encode("utf-8"))
        if not pattern:
            raise ValueError(f"bad font pattern {spec!r}")
        self.lib.FcConfigSubstitute(None, pattern, 0)
        self.lib.FcDefaultSubstitute(pattern)
        return pattern

    def _font(self, pattern) -> Optional["Font"]:
        lib = self.lib
        family, path, charset = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_void_p()
        if lib.FcPatternGetString(pattern, b"family", 0, ctypes.byref(family)) != 0:
            return None
        lib.FcPatternGetString(pattern, b"file", 0, ctypes.byref(path))
        if lib.FcPatternGetCharSet(pattern, b"charset", 0, ctypes.byref(charset)) != 0:
            return None
        return Font(family.value.decode("utf-8", "replace"),
                    (path.value or b"").decode("utf-8", "replace"), charset.value, self)

    def match(self, spec: str) -> Optional["Font"]:
        """The font cairo draws ``spec`` with (the best match, covering or not)."""
        pattern = self._pattern(spec)
        result = ctypes.c_int()
        try:
            found = self.lib.FcFontMatch(None, pattern, ctypes.byref(result))
        finally:
            self.lib.FcPatternDestroy(pattern)
        if not found:
            return None
        self.keep.append(found)
        return self._font(found)

    def sort(self, spec: str) -> list:
        """Every font that adds coverage, best first: the fallback order for ``spec``."""
        pattern = self._pattern(spec)
        result = ctypes.c_int()
        try:
            fonts = self.lib.FcFontSort(None, pattern, 1, None, ctypes.byref(result))
        finally:
            self.lib.FcPatternDestroy(pattern)
        if not fonts:
            return []
        self.keep.append(fonts)
        found = (self._font(fonts.contents.fonts[k]) for k in range(fonts.contents.nfont))
        return [font for font in found if font is not None]


class Font:
    def __init__(self, family: str, path: str, charset, fc: _Fontconfig):
        self.family, self.path, self._charset, self._fc = family, path, charset, fc

    def has(self, char: str) -> bool:
        return bool(self._fc.lib.FcCharSetHasChar(self._charset, ord(char)))

    def __repr__(self) -> str:
        return f"Font({self.family!r}, {self.path!r})"


@lru_cache(maxsize=1)
def fontconfig() -> Optional[_Fontconfig]:
    try:
        return _Fontconfig()
    except (OSError, AttributeError):
        return None


def _style(bold: bool, italic: bool) -> str:
    return f":weight={200 if bold else 80}:slant={100 if italic else 0}"     # cairo's toy font pattern


@lru_cache(maxsize=64)
def primary(family: str, bold: bool = False, italic: bool = False) -> Optional[Font]:
    fc = fontconfig()
    return fc.match(_escape_family(family) + _style(bold, italic)) if fc else None


@lru_cache(maxsize=64)
def fallbacks(family: str, bold: bool, italic: bool, lang: str) -> tuple:
    fc = fontconfig()
    if fc is None:
        return ()
    return tuple(fc.sort(_escape_family(family) + _style(bold, italic) + (f":lang={lang}" if lang else "")))


def _escape_family(family: str) -> str:
    return re.sub(r"([\\:,=-])", r"\\\1", family)


def _drawn(char: str) -> bool:
    """Whether a character needs a glyph of its own: not a combining mark (placed over its letter)
    and not an invisible control or format character (left out: cairo would draw it as a box)."""
    return unicodedata.category(char) not in ("Mn", "Me", "Cc", "Cf")


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")


def lang_of(text: str) -> str:
    """The fontconfig language whose fonts should draw ``text``'s Han characters: Japanese when it
    has kana, Korean when it has hangul, else Simplified Chinese.

    >>> lang_of("价格 = 苹果"), lang_of("値段 = りんご"), lang_of("가격"), lang_of("J = w*x")
    ('zh-cn', 'ja', 'ko', '')
    """
    if re.search("[\u3040-\u30ff]", text):
        return "ja"
    if re.search("[\uac00-\ud7af\u1100-\u11ff]", text):
        return "ko"
    if re.search("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]", text):
        return "zh-cn"
    return ""


@lru_cache(maxsize=8192)
def font_for(char: str, family: str, bold: bool = False, italic: bool = False, lang: str = "") -> Optional[Font]:
    """The installed font that draws ``char`` for text set in ``family``: the family itself when it
    has the glyph, else fontconfig's first fallback that has it; None when no font has it."""
    first = primary(family, bold, italic)
    if first is not None and first.has(char):
        return first
    for candidate in fallbacks(family, bold, italic, lang):
        if candidate.has(char):             # the face cairo picks for this family in this style
            drawn = primary(candidate.family, bold, italic)
            if drawn is not None and drawn.has(char):
                return drawn
    return None


# -- glyph advances, as cairo measures them ----------------------------------------------------------

@lru_cache(maxsize=1)
def _measurer():
    import cairocffi as cairo
    context = cairo.Context(cairo.ImageSurface(cairo.FORMAT_A8, 1, 1))
    options = cairo.FontOptions()
    options.set_hint_metrics(cairo.HINT_METRICS_OFF)
    options.set_hint_style(cairo.HINT_STYLE_NONE)
    context.set_font_options(options)
    context.set_font_size(100)
    return context, cairo


@lru_cache(maxsize=4096)
def _extents_em(family: str, bold: bool, italic: bool, char: str) -> tuple:
    """cairo's (x_bearing, y_bearing, width, height, x_advance) of one character, in em."""
    context, cairo = _measurer()
    context.select_font_face(family, cairo.FONT_SLANT_ITALIC if italic else cairo.FONT_SLANT_NORMAL,
                             cairo.FONT_WEIGHT_BOLD if bold else cairo.FONT_WEIGHT_NORMAL)
    return tuple(v / 100 for v in context.text_extents(char)[:5])


def _advance_em(family: str, bold: bool, italic: bool, char: str) -> float:
    return _extents_em(family, bold, italic, char)[4]


def advance(text: str, family: str, size: float, bold: bool = False, italic: bool = False) -> float:
    """The width cairosvg gives ``text`` (it places letter after letter, by their advances)."""
    return sum(_advance_em(family, bold, italic, c) for c in text) * size


# -- the SVG, with every run of text in a font that has its glyphs -----------------------------------

_TEXT = re.compile(r"<text\b([^>]*)>([^<]*)</text>")
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


class MissingGlyphs(Exception):
    def __init__(self, chars: list):
        super().__init__("".join(chars))
        self.chars = chars


def with_fallback_fonts(svg: str) -> str:
    """The SVG with every text run the named font cannot draw set in an installed font that can,
    and combining marks (the bar of ``X̄``) placed over their letter, which cairosvg, drawing letter
    after letter, would put beside it. Raises MissingGlyphs with the characters no font has."""
    if fontconfig() is None:
        return svg
    lang = lang_of(_html.unescape(" ".join(m.group(2) for m in _TEXT.finditer(svg))))
    missing: dict = {}

    def rewrite(match: re.Match) -> str:
        attrs = dict(_ATTR.findall(match.group(1)))
        text = "".join(c for c in unicodedata.normalize("NFC", _html.unescape(match.group(2))) if not _invisible(c))
        family = attrs.get("font-family", "Times-Roman").split(",")[0].strip("\"' ")
        weight = attrs.get("font-weight", "normal")
        style = dict(bold=weight == "bold" or weight.isdigit() and int(weight) >= 550,
                     italic=attrs.get("font-style") in ("italic", "oblique"))
        runs: list = []                     # [family, text]: letters of one font, and the marks on them
        for char in text:
            chosen = None
            if _drawn(char) or _mark(char):
                font = font_for(char, family, lang=lang, **style)
                if font is None:
                    missing[char] = None
                elif not _mark(char):
                    chosen = font.family if not _is_primary(font, family, **style) else family
            if runs and (chosen is None or chosen == runs[-1][0]):
                runs[-1][1] += char
            else:
                runs.append([chosen or family, char])
        if len(runs) <= 1 and not any(map(_mark, text)):   # one font: the element as it was
            return _text_element(match.group(1), {"xml:space": "preserve",   # spaces as Graphviz measured
                                                  "font-family": runs[0][0] if runs else family}, text)
        size = float(attrs.get("font-size", "14"))
        letters = [(f, "".join(c for c in t if not _mark(c))) for f, t in runs]
        widths = [advance(t, f, size, **style) for f, t in letters]
        x = float(attrs.get("x", "0"))
        anchor = attrs.get("text-anchor", "start")
        x -= sum(widths) / 2 if anchor == "middle" else sum(widths) if anchor == "end" else 0
        y = float(attrs.get("y", "0"))
        pieces = []
        for (run_family, run_text), (_, plain), width in zip(runs, letters, widths):
            if plain:
                pieces.append(_text_element(match.group(1), {"xml:space": "preserve", "font-family": run_family,
                                                              "text-anchor": "start", "x": f"{x:.2f}"}, plain))
            pieces += _marks(match.group(1), run_text, run_family, x, y, size, style, lang)
            x += width
        return "\n".join(pieces)

    rewritten = _TEXT.sub(rewrite, svg)
    if missing:
        raise MissingGlyphs(list(missing))
    return rewritten


def _mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Me")


def _marks(attributes: str, text: str, family: str, x: float, y: float, size: float, style: dict,
           lang: str) -> list:
    """Each combining mark of ``text`` (set from ``x``) as an element of its own, centred over (or
    under) the ink of its letter, clear of it."""
    pieces, base, left, top, bottom = [], None, x, 0.0, 0.0
    for char in text:
        if not _mark(char):
            base = char
            xb, yb, w, h, adv = _extents_em(family, style["bold"], style["italic"], char)
            centre, top, bottom = left + (xb + w / 2) * size, yb * size, (yb + h) * size
            left += adv * size
            continue
        if base is None:
            continue
        font = font_for(char, family, lang=lang, **style)
        if font is None:
            continue
        mxb, myb, mw, mh, _ = _extents_em(font.family, style["bold"], style["italic"], char)
        gap = 0.06 * size
        if myb + mh <= 0.2:                 # a mark above the letter: its ink just over the letter's
            shift = (top - gap) - (myb + mh) * size
            top = top - gap - mh * size
        else:                               # below
            shift = (bottom + gap) - myb * size
            bottom = bottom + gap + mh * size
        pieces.append(_text_element(attributes, {"xml:space": "preserve", "font-family": font.family,
                                                 "text-anchor": "start",
                                                 "x": f"{centre - (mxb + mw / 2) * size:.2f}",
                                                 "y": f"{y + shift:.2f}"}, char))
    return pieces


def _is_primary(font: Font, family: str, bold: bool = False, italic: bool = False) -> bool:
    first = primary(family, bold, italic)
    return first is not None and font.path == first.path and font.family == first.family


def _text_element(attributes: str, changes: dict, text: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        return f'{name}="{_html.escape(changes.pop(name), quote=True)}"' if name in changes else match.group(0)
    changed = _ATTR.sub(replace, attributes)
    extra = "".join(f' {k}="{_html.escape(v, quote=True)}"' for k, v in changes.items())
    body = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<text{changed}{extra}>{body}</text>"


# -- what doctor reports -------------------------------------------------------------------------------

SAMPLES = (
    ("Latin text", "Arial", "value J w1"),
    ("math symbols", "Arial", "∂ − × → ℝ ‖ ◦ ᵀ ⁻"),
    ("Chinese (--lang zh, CJK names)", "Arial", "价格苹果数量梯度"),
)


def report() -> list:
    """(what, fonts used or the problem, ok) for doctor."""
    if fontconfig() is None:
        return [("fonts", "fontconfig not found: PNG and PDF text is drawn only in the font the figure "
                          "names (Arial), without fallback", False)]
    rows = []
    for what, family, sample in SAMPLES:
        lang = lang_of(sample)
        used, missing = {}, []
        for char in sample:
            if not _drawn(char):
                continue
            font = font_for(char, family, False, False, lang)
            if font is None:
                missing.append(char)
            else:
                used.setdefault(font.family, font.path)
        text = ", ".join(f"{name} ({path})" for name, path in used.items()) or "-"
        if missing:
            hint = " (Debian: apt-get install fonts-noto-cjk)" if lang else ""
            text += f"; no font has {' '.join(missing)}: they would be boxes, so bpviz refuses{hint}"
        rows.append((what, text, not missing))
    return rows
