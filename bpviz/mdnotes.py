"""``bpviz md``: render the ```bpviz blocks of Markdown notes in place, idempotently.

A block is a fenced code block whose info string starts with ``bpviz``; markdown-it-py finds them,
so ``~~~`` fences, longer fences and fences inside lists and block quotes all count. The block
holds a YAML spec (a mapping with ``graph``, ``layers`` or ``inputs``) or an expression program;
the rest of its info string is options, split with ``shlex``: ``at="w=2, x=-2" lang=zh note``.

``--in-place`` keeps every fence as written and puts what bpviz made right after it, between
``<!-- bpviz:begin HASH -->`` and ``<!-- bpviz:end -->``; HASH is the first 12 hex digits of the
sha256 of the info string, a newline and the body. A block whose HASH and image are unchanged is
left alone, so a second run changes no byte. ``-o OUT.md`` writes a new note instead, every fence
replaced by its image (the mermaid-cli way).

This module plans and renders; ``bpviz.write`` does every write and removal: a note is written
atomically, and only if it did not change on disk since it was read.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from .errors import BpvizError, InputError, OutputError, UsageError, clip
from .escape import md_link_target, md_text, one_line

LANG = "bpviz"
BEGIN = "<!-- bpviz:begin {} -->"
END = "<!-- bpviz:end -->"
_BEGIN = re.compile(r"^[ \t>]*<!-- bpviz:begin ([0-9a-f]{12}) -->[ \t]*$")
_END = re.compile(r"^[ \t>]*<!-- bpviz:end -->[ \t]*$")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
IMAGE_FORMATS = ("svg", "png")
MAX_NOTE_BYTES = 8_000_000
ERROR_CHARS = 300                 # a block's error, as the note shows it
MAX_BLOCKS = 500                  # a note with more is refused before any is rendered
HASH_DIGITS = 12

# The CLI's long options a block may set (without --), and what each becomes.
SOURCE_KEYS = ("at", "values", "output", "shape", "set", "group", "view", "grad")
OPTION_KEYS = ("digits", "edge-labels", "rankdir", "theme", "highlight", "legend", "no-legend", "renderer",
               "dpi", "max-cells", "large", "lang", "lr", "wrt", "param", "check")
BLOCK_KEYS = ("note", "format")
REFUSED = {"out": "it writes a file; bpviz md names the block's image itself",
           "o": "it writes a file; bpviz md names the block's image itself",
           "frames": "it writes files", "frames-format": "it goes with frames, which writes files",
           "embed": "the image is linked from the assets folder",
           "figure": "a block always has its figure", "no-figure": "a block always has its figure",
           "md-fragment": "a block's note is always a fragment", "tex-fragment": "blocks are Markdown"}
REPEATABLE = ("at", "shape", "set", "wrt", "param", "grad")


@dataclass
class Block:
    """One ```bpviz fence of a note, and what bpviz already put after it."""
    info: str                        # the info string after the fence, as written
    body: str                        # the fence's content, container prefixes removed
    start: int                       # 0-based line of the opening fence
    end: int                         # 0-based line after the closing fence
    prefix: str                      # what starts each inserted line (a block quote's "> ", a list's indent)
    region: Optional[tuple] = None   # (first, after) lines of the generated part, if there is one
    old_hash: Optional[str] = None
    problem: Optional[str] = None    # why the block cannot be rendered, found while reading it

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.info}\n{self.body}".encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]

    @property
    def line(self) -> int:
        """The opening fence's line, counted from 1 as an editor does."""
        return self.start + 1


@dataclass
class Failure:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class NoteReport:
    """What ``process`` did to one note."""
    path: str
    blocks: int = 0
    rendered: int = 0
    failures: list = field(default_factory=list)
    written: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    changed: bool = False


def split_lines(text: str) -> list:
    r"""Lines with their endings, split where markdown-it splits (``\n``, ``\r\n``, ``\r``).

    >>> split_lines("a\r\nb\n\nc")
    ['a\r\n', 'b\n', '\n', 'c']
    """
    return _LINE.findall(text)


def _eol(lines: list) -> str:
    for line in lines:
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith(("\n", "\r")):
            return line[-1]
    return "\n"


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def _container_prefix(opening: str) -> str:
    r"""What continues the container an opening fence sits in, for lines inserted after it:
    block-quote markers stay, list markers and indentation become spaces.

    >>> _container_prefix("> - ```bpviz"), _container_prefix("1. ~~~bpviz"), _container_prefix("```bpviz")
    ('>   ', '   ', '')
    """
    marker = re.search(r"(`{3,}|~{3,})", opening)
    before = opening[:marker.start()] if marker else ""
    out = []
    i = 0
    while i < len(before):
        c = before[i]
        if c == ">":
            out.append(">")
        elif c in " \t":
            out.append(c)
        else:                               # a list marker (-, *, +, 1., 1)) becomes its width in spaces
            out.append(" ")
        i += 1
    return "".join(out)


def find_blocks(text: str) -> list:
    """The ```bpviz blocks of a note, in order, with the generated part after each."""
    from markdown_it import MarkdownIt
    lines = split_lines(text)
    blocks = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        info = token.info.strip()
        words = info.split(None, 1)
        if not words or words[0] != LANG:
            continue
        start, end = token.map
        opening = _strip_eol(lines[start]) if start < len(lines) else ""
        block = Block(info=info, body=token.content, start=start, end=end, prefix=_container_prefix(opening))
        closing = _strip_eol(lines[end - 1]).lstrip(" \t>-*+0123456789.)") if end - 1 > start else ""
        if end - 1 <= start or not closing.startswith(token.markup) or closing.strip(token.markup[0]).strip():
            block.problem = "this ```bpviz block has no closing fence"
        elif "<!-- bpviz:" in token.content:
            block.problem = "a block cannot hold a bpviz marker (<!-- bpviz:...)"
        elif any("\x00" in line for line in lines[start:end]):     # markdown-it reads it as U+FFFD
            block.problem = "the block holds a NUL character (U+0000)"
        _attach_region(block, lines)
        blocks.append(block)
    return blocks


def _attach_region(block: Block, lines: list) -> None:
    """The generated part right after the block (blank lines between allowed), if there is one."""
    i = block.end
    while i < len(lines) and not _strip_eol(lines[i]).strip(" \t>"):
        i += 1
    if i >= len(lines):
        return
    begin = _BEGIN.match(_strip_eol(lines[i]))
    if not begin:
        return
    for j in range(i + 1, len(lines)):
        if _END.match(_strip_eol(lines[j])):
            block.region, block.old_hash = (block.end, j + 1), begin.group(1)
            return
        if _BEGIN.match(_strip_eol(lines[j])):
            break
    block.problem = (f"the generated part after this block (line {i + 1}) has no {END} line: "
                     f"delete its begin marker and run again")


# -- a block's options ------------------------------------------------------------------------------

@dataclass
class BlockSettings:
    kind: str                        # "expr" | "spec"
    source: object                   # bpviz.api.Source
    options: object                  # bpviz.api.Options for the figure
    note: bool
    image_format: str


def block_options(info: str) -> dict:
    """The info string's options: ``key=value`` or a bare flag, keys as the CLI's long options.

    >>> block_options('bpviz at="w=2, x=-2" at=b=8 note lang=zh')
    {'at': ['w=2, x=-2', 'b=8'], 'note': True, 'lang': 'zh'}
    """
    try:
        words = shlex.split(info, comments=False, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot read the block's options: {exc}") from None
    options: dict = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        key = key.strip().lstrip("-").replace("_", "-").lower()
        if not key:
            raise UsageError(f"option {word!r} has no name")
        if key in REFUSED:
            raise UsageError(f"option {key!r} is not for blocks: {REFUSED[key]}")
        known = SOURCE_KEYS + OPTION_KEYS + BLOCK_KEYS
        if key not in known:
            raise UsageError(f"unknown option {clip(key)!r} (blocks take: {', '.join(sorted(known))})")
        item = value if eq else True
        if key in REPEATABLE:
            if item is True:
                raise UsageError(f"option {key!r} needs a value: {key}=...")
            options.setdefault(key, []).append(item)
        elif key in options:
            raise UsageError(f"option {key!r} is given twice")
        else:
            options[key] = item
    return options


def _text(options: dict, key: str) -> Optional[str]:
    value = options.get(key)
    if value is True:
        raise UsageError(f"option {key!r} needs a value: {key}=...")
    return value


def is_spec(body: str) -> bool:
    """A YAML mapping with ``graph``, ``layers`` or ``inputs`` is a spec; anything else a program."""
    if not re.search(r"^(graph|layers|inputs)\s*:", body, re.M):
        return False                            # no such top-level key: skip the YAML parse
    import yaml
    try:
        doc = yaml.safe_load(body)
    except yaml.YAMLError:
        return True                             # it looks like one: the spec reader says what is wrong
    return isinstance(doc, dict) and any(k in doc for k in ("graph", "layers", "inputs"))


def settings_for(block: Block, note_dir: Path, default_format: str, renderer: Optional[str] = None) -> BlockSettings:
    """Turn a block's info string and body into what ``bpviz.api`` runs."""
    from .api import Options, Source
    from .values import load_values_file, parse_assignments, parse_shapes
    opts = block_options(block.info)
    image_format = (_text(opts, "format") or default_format).lower()
    if image_format not in IMAGE_FORMATS:
        raise UsageError(f"format must be {' or '.join(IMAGE_FORMATS)}, not {image_format!r}")
    note = opts.get("note", False)
    if note is not True and note is not False:
        raise UsageError("note is a flag: write it alone, without =")
    kind = "spec" if is_spec(block.body) else "expr"
    if kind == "spec":
        for key in ("at", "values", "output", "shape"):
            if key in opts:
                raise UsageError(f"option {key!r} is for expression programs; a spec takes set=KEY.PATH=VALUE")
        group = (_text(opts, "group") or "auto").lower()
        if group not in ("auto", "none", "neurons"):
            raise UsageError(f"group must be auto, none or neurons, not {group!r}")
        view = (_text(opts, "view") or "scalar").lower()
        source = Source.spec(block.body, "this block", opts.get("set", []),
                             group={"auto": None, "none": False, "neurons": True}[group], view=view,
                             grads=opts.get("grad", []))
    else:
        for key in ("set", "group", "view"):
            if key in opts:
                raise UsageError(f"option {key!r} is for YAML specs; this block is an expression program")
        values: dict = {}
        if "values" in opts:
            name = _text(opts, "values")
            path = _inside(note_dir, name)
            try:
                values.update(load_values_file(str(path)))
            except BpvizError as exc:            # the name as written: no absolute path in a note
                raise type(exc)(exc.message.replace(str(path), name)) from None
        for item in opts.get("at", []):
            values.update(parse_assignments(item))
        shapes = None
        if opts.get("shape"):
            shapes = {}
            for item in opts["shape"]:
                shapes.update(parse_shapes(item))
        source = Source.expression(block.body, values, _text(opts, "output"), shapes=shapes,
                                   grads=opts.get("grad", []))
    settings = {"renderer": renderer} if renderer else {}
    for key in OPTION_KEYS:
        if key not in opts:
            continue
        value = opts[key]
        if key in ("legend", "no-legend", "large", "check"):
            if value is not True:
                raise UsageError(f"{key} is a flag: write it alone, without =")
            settings["legend" if key == "no-legend" else key] = key != "no-legend"
            continue
        if value is True:
            raise UsageError(f"option {key!r} needs a value: {key}=...")
        name = {"edge-labels": "edge_labels", "max-cells": "max_cells", "param": "params"}.get(key, key)
        if key in ("digits", "dpi", "max-cells"):
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"{key} must be a whole number, not {value!r}") from None
        settings[name] = value
    if not note and any(k in settings for k in ("lr", "wrt", "params")):
        raise UsageError("lr, wrt and param shape the note: add the flag note")
    return BlockSettings(kind, source, Options.make(**settings), note, image_format)


def _inside(folder: Path, name: str) -> Path:
    """``name`` relative to the note's folder, refused if it leads outside it or is not a regular
    file (a FIFO would block the run)."""
    if not name or not name.strip():
        raise UsageError("values needs a file name: values=FILE")
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise InputError(f"values={name}: the file must be inside the note's folder")
    if not path.exists():
        raise InputError(f"values={name}: no such file beside the note")
    if not path.is_file():
        raise InputError(f"values={name}: not a regular file")
    return path


# -- rendering ---------------------------------------------------------------------------------------

@dataclass
class Rendered:
    image: Optional[bytes] = None
    note: Optional[str] = None
    alt: str = ""
    title: str = ""
    error: Optional[str] = None
    error_line: int = 0              # the line inside the block the error names (0: the fence)


def render_block(block: Block, note_dir: Path, default_format: str, renderer: Optional[str] = None) -> Rendered:
    """Run one block: its image, its note if asked, or the one-line error to show in its place."""
    from .api import note_markdown, run
    if block.problem:
        return Rendered(error=block.problem)
    try:
        settings = settings_for(block, note_dir, default_format, renderer)
        figure_options = replace(settings.options, format=settings.image_format, lr=None, wrt=(), params=())
        result = run(settings.source, figure_options)
        failure = result.check_failure()
        if failure is not None:
            raise failure
        image = result.files[-1][1]
        note = _demote(note_markdown(result.graph, settings.options)) if settings.note else None
    except BpvizError as exc:
        return Rendered(error=clip(_in_block_terms(one_line(exc.message)), ERROR_CHARS),
                        error_line=_error_line(exc))
    graph = result.graph
    alt = (f"Backprop graph of {graph.title}" if graph.spec is not None and graph.title
           else "Backprop graph of a network" if graph.spec is not None
           else "Backprop graph: " + "; ".join(line.strip() for line in block.body.splitlines() if line.strip()))
    if len(alt) > 160:
        alt = alt[:159] + "…"
    title = _title(graph)
    return Rendered(image=image if isinstance(image, bytes) else image.encode("utf-8"), note=note,
                    alt=alt, title=title)


def _demote(text: str, levels: int = 2) -> str:
    r"""A note's headings ``levels`` deeper, so a block's derivation nests under the note's own
    sections (headings only: a ``#`` in a code block stays).

    >>> _demote("## Forward pass\n\n```yaml\n# a comment\n```\n")
    '#### Forward pass\n\n```yaml\n# a comment\n```\n'
    """
    from markdown_it import MarkdownIt
    lines = text.split("\n")
    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "heading_open" and token.map and token.markup.startswith("#"):
            i = token.map[0]
            depth = min(len(token.markup) + levels, 6)
            lines[i] = "#" * depth + lines[i].lstrip()[len(token.markup):]
    return "\n".join(lines)


def _title(graph) -> str:
    """The image's title: the output's value and the inputs' gradients, as the figure shows them."""
    from .numeric import fmt
    out = graph.out
    if out.value is None:
        return f"{out.name}"
    try:
        parts = [f"{out.name} = {fmt(out.value)}"]
        if getattr(graph, "matrix", False):     # matrices: their gradients' shapes, not their entries
            grads = [f"∂{out.name}/∂{n.name}: {'×'.join(map(str, n.shape)) or 'scalar'}"
                     for n in graph.inputs[:4]]
        else:
            grads = [f"∂{out.name}/∂{n.name} = {fmt(n.grad)}" for n in graph.inputs[:4]]
    except (TypeError, ValueError):
        return out.name
    more = ", …" if len(graph.inputs) > 4 else ""
    return "; ".join(parts + [", ".join(grads) + more]) if grads else parts[0]


def _in_block_terms(message: str) -> str:
    """A message's command-line hints as a block's options: ``--at x=...`` is ``at=x=...``.

    >>> _in_block_terms("no value for q (give it with --at q=...)")
    'no value for q (give it with at=q=...)'
    """
    message = re.sub(r"--([a-z][a-z-]*) (?=\S+=)", r"\1=", message)      # --at x=... -> at=x=...
    return re.sub(r"(?<![\w-])--([a-z][a-z-]*)", r"\1", message)          # --large -> large


def _error_line(exc: BpvizError) -> int:
    """The line inside the block an error names, else 0."""
    line = getattr(exc, "line", None)
    if isinstance(line, int):
        return line
    found = re.search(r"\bline (\d+)\b", exc.message)
    return int(found.group(1)) if found else 0


# -- one note ------------------------------------------------------------------------------------------

@dataclass
class Plan:
    """Where one note's outputs go."""
    source: Path                     # the note read
    target: Path                     # the note written (the same file with --in-place)
    assets: Path                     # the image folder
    in_place: bool = True
    obsidian: bool = False
    image_format: str = "svg"
    prune: bool = False
    renderer: Optional[str] = None   # the blocks' Graphviz unless one says (renderer=...)
    force: bool = False              # render every block, changed or not

    def relative(self, path: Path) -> str:
        """``path`` as the written note links it: relative to the note's folder, with '/'."""
        return os.path.relpath(path, self.target.parent).replace(os.sep, "/")

    @property
    def stem(self) -> str:
        """What the images are named after: the note written, or the note read for ``-o -``."""
        return (self.source if str(self.target) == "-" else self.target).stem


def asset_name(stem: str, digest: str, fmt: str) -> str:
    return f"{stem}-{digest}.{fmt}"


# Characters an Obsidian embed ![[...]] cannot hold: no escape exists for them.
OBSIDIAN_FORBIDDEN = "[]|#^"


def _link(plan: Plan, image: Path, rendered: Rendered) -> str:
    relative = plan.relative(image)
    if plan.obsidian:
        return f"![[{relative}]]"
    title = rendered.title.replace("\\", "\\\\").replace('"', '\\"')
    target = f"<{_angle(relative)}>" if " " in relative else md_link_target(relative)
    return f"![{md_text(rendered.alt)}]({target} \"{one_line(title)}\")"


def _angle(path: str) -> str:
    r"""A link target for ``<…>``: no line breaks, and ``<``, ``>`` and ``\`` escaped.

    >>> _angle("my notes/a <b>.svg")
    'my notes/a \\<b\\>.svg'
    """
    return re.sub(r"([<>\\])", r"\\\1", one_line(path))


def _generated(plan: Plan, block: Block, rendered: Rendered, eol: str) -> list:
    """The lines that go after (--in-place) or instead of (-o) a block, container prefix included."""
    body: list = []
    if rendered.error is not None:
        body.append(f"**bpviz:** {md_text(rendered.error)}")
    else:
        image = plan.assets / asset_name(plan.stem, block.hash, _format_of(block, plan))
        body.append(_link(plan, image, rendered))
        if rendered.note:
            body.append("")
            body += rendered.note.rstrip("\n").split("\n")
            body.append("")
    if plan.in_place:
        body = [BEGIN.format(block.hash)] + body + [END]
    prefix = block.prefix
    return [(prefix + line if line else prefix.rstrip()) + eol for line in body]


def _format_of(block: Block, plan: Plan) -> str:
    try:
        fmt = block_options(block.info).get("format")
    except UsageError:
        fmt = None
    return (fmt if isinstance(fmt, str) and fmt.lower() in IMAGE_FORMATS else plan.image_format).lower()


def plan_note(text: str, plan: Plan, render: Callable = render_block) -> tuple:
    """The new text of a note, the files to write beside it, the failures, how many blocks were
    rendered, and the blocks. Nothing is written here."""
    lines = split_lines(text)
    eol = _eol(lines)
    unterminated = bool(lines) and not lines[-1].endswith(("\n", "\r"))
    if unterminated:                          # work on whole lines; the ending comes off again below
        lines[-1] += eol
    blocks = find_blocks("".join(lines))
    if len(blocks) > MAX_BLOCKS:
        raise InputError(f"{plan.source}: {len(blocks):,} bpviz blocks, more than the {MAX_BLOCKS} a note may "
                         f"have; split it into several notes")
    files: list = []
    failures: list = []
    owners: dict = {}                         # image path -> the first block that links it
    drawn: dict = {}                          # image path -> its Rendered, when drawn in this run
    rendered_count = 0
    out: list = []
    cursor = 0
    for block in blocks:
        after = block.region[1] if block.region else block.end
        if block.problem is not None:
            # an unclosed fence or a broken marker: bpviz cannot tell where its part would go, so the
            # note is left as it is there (an error written into it would land inside the open fence)
            failures.append(Failure(str(plan.source), block.line, block.problem))
            rendered_count += 1                # tried, and failed
            out += lines[cursor:after]
            cursor = after
            continue
        image = plan.assets / asset_name(plan.stem, block.hash, _format_of(block, plan))
        owner = owners.setdefault(image, block)
        clash = (owner.info, owner.body) != (block.info, block.body)
        keep = (not clash and plan.in_place and not plan.force and block.region is not None
                and block.old_hash == block.hash and image.is_file() and not _holds_error(lines, block)
                and _obsidian_style(lines, block) == plan.obsidian
                and not _inputs_newer(block, plan.source.parent, image))
        out += lines[cursor:block.end] if plan.in_place else lines[cursor:block.start]
        if keep:
            out += lines[block.end:after]
        else:
            if clash:
                result = _clash(plan, image, owner)
            elif image in drawn:              # an identical block drawn before: link the same image
                result = drawn[image]
            else:
                result = drawn[image] = render(block, plan.source.parent, plan.image_format, plan.renderer)
                if result.error is None:
                    files.append((str(image), result.image))
            rendered_count += 1
            if result.error is not None:
                failures.append(Failure(str(plan.source), block.line + result.error_line, result.error))
            out += _generated(plan, block, result, eol)
        cursor = after
    out += lines[cursor:]
    new = "".join(out)
    if unterminated and new.endswith(eol):
        new = new[:-len(eol)]
    return new, files, failures, rendered_count, blocks


def _clash(plan: Plan, image: Path, owner: Block) -> Rendered:
    """The error of a block whose image would have the name of a different block's (their 12-digit
    hashes collide): one file cannot hold both figures."""
    name = plan.relative(image)
    return Rendered(error=f"this block's image would be {name}, as for the block at line {owner.line}, "
                          f"which differs: change either block a little (add a space to its info string)")


def _obsidian_style(lines: list, block: Block) -> bool:
    """Whether the generated part links its image as an Obsidian embed."""
    return any("![[" in line for line in lines[block.region[0]:block.region[1]])


def _inputs_newer(block: Block, folder: Path, image: Path) -> bool:
    """Whether the block's values file changed after its image was drawn (make's rule)."""
    try:
        name = block_options(block.info).get("values")
    except BpvizError:
        return False
    if not isinstance(name, str) or not name:
        return False
    try:
        return (folder / name).stat().st_mtime_ns > image.stat().st_mtime_ns
    except OSError:
        return True                            # gone or unreadable: render, and say what is wrong


def _holds_error(lines: list, block: Block) -> bool:
    if block.region is None:
        return False
    return any("**bpviz:**" in line for line in lines[block.region[0]:block.region[1]])


def unreferenced_assets(plan: Plan, blocks: list) -> list:
    """Files ``<note-stem>-<12 hex>.*`` in the assets folder that no block of the note links."""
    if not plan.assets.is_dir():
        return []
    pattern = re.compile(re.escape(plan.stem) + r"-[0-9a-f]{12}\.(" + "|".join(IMAGE_FORMATS) + ")")
    used = {asset_name(plan.stem, b.hash, _format_of(b, plan)) for b in blocks}
    stale = [p for p in sorted(plan.assets.iterdir())
             if pattern.fullmatch(p.name) and p.name not in used and p.is_file() and not p.is_symlink()]
    if stale:                                  # another note of the same name may share the folder
        linked = _linked_elsewhere(plan, {p.name for p in stale})
        stale = [p for p in stale if p.name not in linked]
    return [str(p) for p in stale]


def _linked_elsewhere(plan: Plan, names: set) -> set:
    """Which of ``names`` a Markdown file other than this note mentions, among the notes in the
    folder that holds the assets folder (and below it)."""
    from urllib.parse import quote
    found: set = set()
    root = plan.assets.resolve().parent
    me = {os.path.realpath(plan.source), os.path.realpath(plan.target)}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
        for name in files:
            path = os.path.join(folder, name)
            if not name.lower().endswith((".md", ".markdown")) or os.path.realpath(path) in me \
                    or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as handle:
                    text = handle.read(MAX_NOTE_BYTES).decode("utf-8", "replace")
            except OSError:
                continue
            found |= {n for n in names if n in text or quote(n) in text}
            if found == names:
                return found
    return found


def settled(plan: Plan) -> Plan:
    """The plan with the note it writes checked, and resolved when it is a symbolic link.

    The note written must be a regular file (or ``-o -``, standard output): not a device, a pipe or
    a descriptor (``/dev/stdin``, ``/dev/full``), beside which the images and their links would make
    no sense. A link to a note in another folder is followed: the images go beside the real file,
    where its links resolve. With ``--obsidian``, the embeds must be able to hold the images' path.
    Nothing is written here."""
    written = plan.source if plan.in_place else plan.target
    if str(written) != "-":
        why = _not_a_note_file(written)
        if why and plan.in_place:
            raise InputError(f"{written}: not a regular file ({why}); --in-place rewrites a note file: "
                             f"give the note's own path")
        if why:
            raise OutputError(f"-o {written}: not a regular file ({why}); the note's images go in a folder beside "
                              f"it: give a file path, or -o - for standard output (images then go in the current "
                              f"folder)")
        real = Path(os.path.realpath(written))
        if real.parent != Path(os.path.realpath(written.parent)):
            assets = plan.assets
            if assets.is_relative_to(written.parent):          # --assets was relative to the note
                assets = real.parent / assets.relative_to(written.parent)
            plan = replace(plan, target=real, assets=assets)
    if plan.obsidian:
        link = plan.relative(plan.assets / plan.stem)
        bad = next((c for c in link if c in OBSIDIAN_FORBIDDEN or c < " "), None)
        if bad is not None:
            raise InputError(f"{plan.source}: --obsidian cannot embed {clip(link + '-HASH.' + plan.image_format)!r}: "
                             f"Obsidian links cannot hold {bad!r}; rename the note or the assets folder, or drop "
                             f"--obsidian")
    return plan


def _not_a_note_file(path: Path) -> Optional[str]:
    """Why ``path`` cannot be a note bpviz writes, or None: it is (or links to) a device, a pipe or
    a process's descriptor, like /dev/stdin (which leads on to the file it was redirected from)."""
    current = os.path.abspath(path)
    for _ in range(40):                            # the links one by one: realpath skips /proc/self/fd
        if current.startswith(("/dev/", "/proc/")):
            return "a device, or a process's descriptor like /dev/stdin"
        if not os.path.islink(current):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None                                # not there yet (a new -o file), or the write says why
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "a device or a pipe"


def process(plan: Plan, render: Callable = render_block) -> NoteReport:
    """Render one note's blocks and write the note and its images (atomically, and only if the note
    did not change on disk meanwhile)."""
    from .write import read_bytes, remove_files, write_files
    plan = settled(plan)
    report = NoteReport(str(plan.source))
    raw = read_bytes(str(plan.source), MAX_NOTE_BYTES, InputError, "the note")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{plan.source}: not UTF-8 text (byte {exc.start + 1})") from None
    bom = text.startswith("\ufeff")
    new, files, failures, count, blocks = plan_note(text[1:] if bom else text, plan, render)
    new = ("\ufeff" if bom else "") + new
    report.blocks, report.rendered, report.failures = len(blocks), count, failures
    if not blocks and plan.in_place:
        return report
    note_changed = new != text or not plan.in_place
    report.changed = note_changed
    note = [(str(plan.target), new.encode("utf-8"))] if note_changed else []
    if str(plan.target) == "-":             # standard output first: if it fails, no image is left behind
        write_files(note)
    targets = files + (note if str(plan.target) != "-" else [])
    if targets:
        unchanged = {str(plan.source): raw} if plan.in_place else {}
        write_files(targets, directories=(str(plan.assets),) if files else (), unchanged=unchanged)
    report.written = [path for path, _ in files + note]
    if plan.prune:
        stale = unreferenced_assets(plan, blocks)
        remove_files(stale)
        report.removed = stale
    return report


def notes_in(paths: list) -> list:
    """The Markdown files named: files as given, folders searched for ``*.md`` (hidden folders and
    assets folders skipped), sorted so runs are reproducible."""
    found: list = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
                found += [Path(root) / n for n in sorted(names) if n.lower().endswith((".md", ".markdown"))
                          and not n.startswith(".") and os.path.isfile(os.path.join(root, n))]
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError(f"{raw}: not a file or folder")
        else:
            raise InputError(f"{raw}: no such file or folder")
    unique, seen = [], set()
    for path in found:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique
