"""The only module that touches the disk or runs programs: reading inputs with a size cap,
all-or-nothing atomic writes, and Graphviz."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

from .errors import OutputError, RenderError, UsageError


def read_text(source: str, limit: int, error: type, what: str) -> str:
    """The UTF-8 text of a file, or of standard input for ``-``, read with a cap: a larger input
    (``/dev/zero``, an endless pipe) is refused after ``limit`` bytes instead of read whole."""
    name = "standard input" if source == "-" else source
    data = read_bytes(source, limit, error, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start + 1} is {data[exc.start]:#04x})") from None


def read_bytes(source: str, limit: int, error: type, what: str) -> bytes:
    """The bytes of a file (``-``: standard input), refused beyond ``limit`` bytes."""
    name = "standard input" if source == "-" else source
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)
            if stream is None:
                raise error(f"{what}: standard input is closed")
            data = stream.read(limit + 1)
        else:
            with open(source, "rb") as handle:
                data = handle.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, not a file") from None
    except OSError as exc:
        raise error(f"{name}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{name}: {what} is larger than {limit / 1e6:g} MB")
    return data


def write_files(files: list, directories: tuple = (), unchanged: Optional[dict] = None) -> None:
    """Write every ``(path, content)`` all-or-nothing; ``-`` is standard output.

    ``directories`` are made first when missing (slide frames, a note's assets folder) and removed
    again, if still empty, when the writing fails. ``unchanged`` maps paths to the bytes they held
    when read: if one of them holds anything else just before the files go into place (the user
    saved the note meanwhile), nothing is written.

    Every target is checked first; new contents go to hidden temporary files beside their targets;
    only when all are staged are they renamed into place (an existing file keeps its mode, a
    symlink keeps pointing where it did). If a rename fails, the files already replaced are put
    back. Device files and pipes (``/dev/null``, ``/dev/stdout``) are written directly, never
    replaced. Temporary files are removed on every exit path, Ctrl-C included.
    """
    made = _make_directories(directories)
    try:
        _write_all(files, unchanged or {})
    except BaseException:
        for directory in reversed(made):
            try:
                os.rmdir(directory)
            except OSError:
                pass
        raise


def remove_files(paths: list) -> None:
    """Delete files (stale images of ``bpviz md --prune``); one already gone is no error."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot remove {path}: {exc.strerror or exc}") from None


def _make_directories(directories) -> list:
    """Make the missing ones (parents too); the list of those made, outermost first."""
    made: list = []
    for directory in directories:
        missing = []
        path = Path(directory)
        while not path.exists() and path != path.parent:
            missing.append(path)
            path = path.parent
        if path.exists() and not path.is_dir():
            raise OutputError(f"cannot make the folder {directory}: {path} is a file")
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(f"cannot make the folder {directory}: {exc.strerror or exc}") from None
            made.append(str(path))
        if not Path(directory).is_dir():
            raise OutputError(f"cannot write into {directory}: it is not a folder")
    return made


def _write_all(files: list, unchanged: dict) -> None:
    targets = [_Target(path, content) for path, content in files if path != "-"]
    seen: dict = {}
    for target in targets:
        if target.key in seen:
            raise OutputError(f"two outputs would both be written to {target.path} "
                              f"({seen[target.key]} and {target.path}); choose another name with -o")
        seen[target.key] = target.path
    staged: list = []
    try:
        for target in targets:
            staged.append(target)           # before staging, so a half-written temp file is removed too
            target.stage()
        for path, before in unchanged.items():
            try:
                with open(path, "rb") as handle:
                    now = handle.read(len(before) + 1)
            except OSError:
                now = None
            if now != before:
                raise OutputError(f"{path} changed on disk while bpviz worked on it; nothing was written "
                                  f"(run again to render the saved version)")
        _commit([t for t in staged if t.tmp is not None])
    finally:
        for target in staged:
            target.discard()
    for target in targets:
        if target.direct:
            target.write_directly()
    for path, content in files:
        if path == "-":
            _write_stdout(content)


def _write_stdout(data: Union[str, bytes]) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise OutputError("cannot write standard output: it is closed")
    try:
        for chunk in _chunks(data):
            stream.write(chunk)
        stream.flush()
    except OSError as exc:
        raise stdout_error(exc) from None


def stdout_error(exc: OSError) -> OutputError:
    """Standard output refused a write (a full disk, a closed pipe), as one line."""
    return OutputError(f"cannot write standard output: {exc.strerror or exc}")


def find_tex_package(name: str) -> Optional[str]:
    """Where TeX finds a package (kpsewhich), or None."""
    kpsewhich = shutil.which("kpsewhich")
    if not kpsewhich:
        return None
    try:
        proc = subprocess.run([kpsewhich, name], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "replace").strip() or None


def is_device(path: str) -> bool:
    """An existing output that is not a regular file or directory: /dev/null, a pipe, a terminal."""
    try:
        return _device(os.stat(path).st_mode)
    except OSError:
        return False


def _device(mode: int) -> bool:
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


CHUNK = 1 << 20


def _chunks(content: Union[str, bytes]):
    """The UTF-8 bytes of ``content`` a megabyte at a time: a big document is never held twice (as
    text and as bytes)."""
    if isinstance(content, bytes):
        yield content
        return
    for start in range(0, len(content), CHUNK):
        yield content[start:start + CHUNK].encode("utf-8")


class _Target:
    """One output file: where it really goes, and its staged temporary file."""

    def __init__(self, path: str, data: Union[str, bytes]):
        self.path, self.data, self.tmp, self.backup = path, data, None, None
        self.mode, self.existed = None, False
        if path.endswith(("/", os.sep)) or os.path.basename(path) in ("", ".", ".."):
            raise OutputError(f"cannot write {path}: it names a directory, not a file")
        try:
            info = os.stat(path)                    # follows symlinks
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.direct = info is not None and _device(info.st_mode)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise OutputError(f"cannot write {path}: it is a directory")
        # a symlink (even one whose target does not exist yet) keeps pointing where it did
        real = Path(os.path.realpath(path)) if not self.direct and os.path.islink(path) else Path(path)
        self.real = real
        self.key = (info.st_dev, info.st_ino) if info is not None else os.path.abspath(path)
        self.directory = real.parent if str(real.parent) else Path(".")
        if not self.direct:
            if not self.directory.is_dir():
                raise OutputError(f"cannot write {path}: the directory {self.directory} does not exist")
            if info is not None:
                self.mode = stat.S_IMODE(info.st_mode)

    def stage(self) -> None:
        if self.direct:
            return
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.real.name}.", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "wb") as handle:
                for chunk in _chunks(self.data):
                    handle.write(chunk)
            os.chmod(self.tmp, self.mode if self.mode is not None else 0o666 & ~_umask())
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def discard(self) -> None:
        for leftover in (self.tmp, self.backup):
            if leftover is not None:
                try:
                    os.unlink(leftover)
                except OSError:
                    pass

    def write_directly(self) -> None:
        try:
            with open(self.path, "wb") as handle:
                for chunk in _chunks(self.data):
                    handle.write(chunk)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None


def _commit(targets: list) -> None:
    """Rename every staged file into place; on failure, put back what was already replaced."""
    done: list = []
    try:
        for target in targets:
            target.existed = target.real.exists()
            if target.existed:
                try:                        # a hard link keeps the old contents, to put back on failure
                    os.link(target.real, f"{target.tmp}.old")
                    target.backup = f"{target.tmp}.old"
                except OSError:
                    pass
            os.replace(target.tmp, target.real)
            target.tmp = None
            done.append(target)
    except OSError as exc:
        for target in reversed(done):
            try:
                if target.backup is not None:
                    os.replace(target.backup, target.real)
                    target.backup = None
                elif not target.existed:
                    os.unlink(target.real)
            except OSError:
                pass
        failed = targets[len(done)]
        raise OutputError(f"cannot write {failed.path}: {exc.strerror or exc} (nothing was written)") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- Graphviz ------------------------------------------------------------------------------------

RENDERERS = ("auto", "system", "embedded")
EMBEDDED = "graphviz-pure"


@dataclass(frozen=True)
class Renderer:
    kind: str          # "system" | "embedded"
    command: str
    version: str
    why: str


def _version(command: str) -> str:
    try:
        proc = subprocess.run([command, "-V"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"{command} does not run: {exc}") from None
    text = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip().splitlines()
    return text[0] if text else "unknown version"


def find_system() -> str | None:
    return shutil.which("dot")


def find_embedded() -> str | None:
    beside = shutil.which(EMBEDDED, path=os.path.dirname(sys.executable))
    return beside or shutil.which(EMBEDDED)


def choose_renderer(choice: str = "auto") -> Renderer:
    """``auto``: Graphviz's ``dot`` from PATH when present, else the embedded graphviz-pure."""
    if choice not in RENDERERS:
        raise UsageError(f"--renderer must be one of {', '.join(RENDERERS)}, not {choice!r}")
    system = find_system() if choice in ("auto", "system") else None
    if system:
        why = "dot found on PATH" + (" (auto prefers a system Graphviz)" if choice == "auto" else "")
        return Renderer("system", system, _version(system), why)
    if choice == "system":
        raise RenderError("no system Graphviz: `dot` is not on PATH (install Graphviz, "
                          "or use --renderer embedded)")
    embedded = find_embedded()
    if embedded:
        why = "no `dot` on PATH" if choice == "auto" else "asked for with --renderer embedded"
        return Renderer("embedded", embedded, _version(embedded), why)
    raise RenderError("no Graphviz renderer: neither `dot` nor `graphviz-pure` is installed "
                      "(pip install graphviz-pure)")


MAX_PNG_PIXELS = 8000      # the long side of a PNG: a bitmap of a huge layout is scaled down, not
                           # allocated at full size (a 500-node chain once asked for 24 GB)
MAX_PNG_AREA = 40_000_000  # pixels of a PNG (160 MB of RGBA): a square figure is scaled down too
LARGE_SVG_BYTES = 4_000_000   # an SVG this large (about 1,500 nodes) is drawn as PDF by system dot itself
TINY_TEXT_SCALE = 0.25     # pixels per point below which a PNG's 10 pt text is under 2.5 px tall
FORMATS = ("svg", "png", "pdf")


def render_graphviz(dot_source: str, fmt: str, renderer: Renderer, dpi: int = 144,
                    timeout: float = 120.0, on_cap: Optional[Callable[[str], None]] = None) -> bytes:
    """Lay out DOT text and return the figure as SVG, PNG or PDF bytes.

    PNG and PDF are drawn from the SVG by cairosvg, with every run of text the SVG's font lacks set
    in an installed font that has it (bpviz.fonts): neither renderer's own PNG draws every glyph
    (graphviz-pure bundles only Latin fonts). A character no installed font has is an error, not a
    box. Without the cairo library, PNG falls back to the renderer's own, where that can draw it.
    A PNG larger than MAX_PNG_PIXELS on its long side or MAX_PNG_AREA in all is scaled down, and
    ``on_cap`` is told what was capped.
    """
    from . import fonts
    if fmt not in FORMATS:
        raise UsageError(f"cannot render {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "png" and cairo_missing() is not None:
        if renderer.kind == "embedded" and fonts.lang_of(dot_source):
            raise RenderError(f"the embedded renderer's own PNG has no Chinese, Japanese or Korean font, and "
                              f"bpviz draws them with cairo, which is missing here ({cairo_missing()}); "
                              f"install it, or write SVG (-o FILE.svg)")
        inches = MAX_PNG_PIXELS / dpi
        return _run_renderer(renderer, dot_source, "png",
                             [f"-Gdpi={dpi}", f"-Gsize={inches:.2f},{inches:.2f}"], timeout)
    svg = render_svg(dot_source, renderer, timeout)
    if fmt == "png":
        found = _SIZE.search(svg[:4000].decode("utf-8", "replace"))
        if found:
            width, height = float(found.group(1)), float(found.group(2))
            (out_w, out_h), full = png_size(width, height, dpi)
            if out_w / max(width, 1.0) < TINY_TEXT_SCALE:
                # text this small is unreadable in any font, and cairosvg, which draws every element
                # in Python, takes a minute for a 4,000-node figure: the renderer's own PNG, at the
                # capped size, takes seconds and the memory of the bitmap
                message = cap_message((out_w, out_h), full, dpi)
                if message and on_cap is not None:
                    on_cap(message + " (drawn by the renderer, its text too small to read)")
                return _run_renderer(renderer, dot_source, "png",
                                     [f"-Gdpi={dpi}", f"-Gsize={out_w / dpi:.4f},{out_h / dpi:.4f}"], timeout)
    if fmt == "pdf" and renderer.kind == "system" and len(svg) > LARGE_SVG_BYTES:
        # cairosvg draws every element in Python (a minute for 4,000 nodes); dot's own PDF (cairo,
        # with pango's font fallback) takes seconds. The same input gives the same bytes
        pdf = _run_renderer(renderer, dot_source, "pdf", [], timeout)
        return re.sub(rb"/(CreationDate|ModDate) \(D:\d{14}", rb"/\1 (D:20000101000000", pdf)
    return svg if fmt == "svg" else draw_svg(svg, fmt, dpi, on_cap)


def render_svg(dot_source: str, renderer: Renderer, timeout: float = 120.0) -> bytes:
    """The renderer's SVG. graphviz-pure underestimates the width of CJK text (it counts each byte of
    a character as a space), so it lays out a copy of the DOT padded with invisible markers that
    make it reserve their real width, which are then taken out of its SVG."""
    from . import fonts
    if renderer.kind == "embedded" and fonts.needs_padding(dot_source):
        svg = _run_renderer(renderer, fonts.pad_wide(dot_source), "svg", [], timeout)
        return fonts.unpad(svg.decode("utf-8")).encode("utf-8")
    return _run_renderer(renderer, dot_source, "svg", [], timeout)


def cairo_missing() -> Optional[str]:
    """Why cairosvg cannot draw here (no cairosvg, no cairo library), or None."""
    try:
        import cairosvg  # noqa: F401  (loads the cairo library through cairocffi)
    except ImportError as exc:
        return f"cairosvg is not installed: {exc}"
    except OSError as exc:
        return f"the cairo library is missing (Debian: apt-get install libcairo2): {exc}"
    return None


_FILL_ONLY = re.compile(r'(<polygon\b[^>]*?\bstroke="(?:none|transparent)")')
_SIZE = re.compile(r'<svg\b[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"')


def png_size(width_pt: float, height_pt: float, dpi: int = 144) -> tuple:
    """The pixel size of a PNG of a ``width_pt``×``height_pt`` figure at ``dpi``, capped to
    MAX_PNG_PIXELS on its long side and MAX_PNG_AREA in all, and the uncapped size."""
    full = (max(1, round(width_pt * dpi / 72)), max(1, round(height_pt * dpi / 72)))
    scale = min(dpi / 72, MAX_PNG_PIXELS / max(width_pt, height_pt, 1.0),
                (MAX_PNG_AREA / max(width_pt * height_pt, 1.0)) ** 0.5)
    return (max(1, round(width_pt * scale)), max(1, round(height_pt * scale))), full


def cap_message(size: tuple, full: tuple, dpi: int) -> Optional[str]:
    """What a capped PNG says: its size, and the size and memory it would have needed."""
    if size == full or (size[0] >= full[0] and size[1] >= full[1]):
        return None
    return (f"the PNG is scaled down to {size[0]:,}×{size[1]:,} px: at --dpi {dpi} it would be "
            f"{full[0]:,}×{full[1]:,} px ({full[0] * full[1] * 4 / 1e9:.1f} GB to draw; at most "
            f"{MAX_PNG_PIXELS:,} px a side and {MAX_PNG_AREA / 1e6:g} megapixels): write SVG (-o FILE.svg) "
            f"for every detail")


def draw_svg(svg: bytes, fmt: str, dpi: int = 144, on_cap: Optional[Callable[[str], None]] = None) -> bytes:
    """A Graphviz SVG as PNG (at ``dpi``, capped by png_size: ``on_cap`` hears what was capped) or
    vector PDF, by cairosvg, with fallback fonts for every glyph. The same SVG gives the same bytes."""
    from . import fonts
    import cairosvg
    try:
        text = fonts.with_fallback_fonts(svg.decode("utf-8"))
    except fonts.MissingGlyphs as exc:
        shown = " ".join(exc.chars[:12]) + (" …" if len(exc.chars) > 12 else "")
        hint = ("install a font for them (Debian: apt-get install fonts-noto-cjk)" if fonts.lang_of("".join(exc.chars))
                else "install a font that has them")
        raise RenderError(f"no installed font has {shown}: the {fmt.upper()} would show boxes; {hint}, "
                          f"or write SVG (-o FILE.svg), which the viewer's fonts draw (a LaTeX note: "
                          f"--no-figure)") from None
    # the cells of a card's row are abutting rectangles at fractional coordinates: drawn without
    # anti-aliasing, no hairline of the card's fill shows between them
    data = _FILL_ONLY.sub(r'\1 shape-rendering="crispEdges"', text).encode("utf-8")
    if fmt == "pdf":
        pdf = cairosvg.svg2pdf(bytestring=data)
        # cairo stamps the time of the run; the same input must give the same bytes (and the same
        # length keeps the PDF's byte offsets right)
        return re.sub(rb"/(CreationDate|ModDate) \(D:\d{14}", rb"/\1 (D:20000101000000", pdf)
    size = _SIZE.search(text)
    width, height = (float(size.group(1)), float(size.group(2))) if size else (72.0, 72.0)
    (out_w, out_h), full = png_size(width, height, dpi)
    message = cap_message((out_w, out_h), full, dpi)
    if message and on_cap is not None:
        on_cap(message)
    return cairosvg.svg2png(bytestring=data, output_width=out_w, output_height=out_h)


def _run_renderer(renderer: Renderer, dot_source: str, fmt: str, extra: list, timeout: float) -> bytes:
    args = [renderer.command, f"-T{fmt}", *extra]
    try:
        proc = subprocess.run(args, input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{renderer.kind} renderer timed out after {timeout:g} s (try --edge-labels none, "
                          f"--large for more time, or a smaller graph)") from None
    except OSError as exc:
        raise RenderError(f"cannot run {renderer.command}: {exc.strerror or exc}") from None
    if proc.returncode != 0 or not proc.stdout:
        errors = [line for line in proc.stderr.decode("utf-8", "replace").splitlines()
                  if line.strip() and "Warning" not in line]
        reason = errors[0] if errors else f"exit status {proc.returncode}"
        raise RenderError(f"{renderer.kind} renderer ({os.path.basename(renderer.command)}) failed: {reason}")
    return proc.stdout
