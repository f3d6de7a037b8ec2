"""The printers: one per output format, all behind one signature, listed in one registry.

A printer is a function ``render(job) -> str | bytes`` (a rich renderable for the terminal) that
reads a finished ``Job``: the evaluated graph, the options, the check report and, for notes, the
note model. It never computes math and never touches the disk. ``PRINTERS`` is what the command
line reads to pick a format from ``-f`` or the output's extension, and for its help text; adding a
format is a module here and one line below. Modules are imported only when their format is used,
so ``bpviz --help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import RenderError, UsageError


@dataclass
class Job:
    """What a printer reads."""
    graph: object                    # bpviz.graph.Graph, evaluated
    options: object                  # bpviz.api.Options
    check: Optional[object] = None   # bpviz.check.CheckReport, with --check
    note: Optional[object] = None    # bpviz.render.note.Note, for note formats
    progress: Optional[Callable] = None   # str -> None: tells the user about slow work as it starts
    warnings: list = field(default_factory=list)   # what a printer had to change (a capped PNG), for the user

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass(frozen=True)
class Printer:
    name: str
    extensions: tuple                # the first is the one bpviz writes
    function: str                    # "module:function" inside bpviz.render
    help: str
    binary: bool = False
    terminal: bool = False           # shown in the terminal, never written to a file
    note: bool = False               # a derivation: note options apply, a figure goes beside it
    figure: tuple = ()               # a note's figure formats, preferred first (the first available)
    embeds: bool = False             # a note that can inline its figure (--embed)
    mime: str = "text/plain"
    requires: Optional[str] = None   # "module:function" -> None, or why the format cannot be made here
    compiles_to: Optional[str] = None   # the file a note becomes (pdflatex: NAME.pdf): its figure avoids it
    draws: bool = False              # a figure: the figure options (--theme, --highlight, ...) apply

    def render(self, job: Job):
        missing = self.missing()
        if missing:
            raise RenderError(f"cannot write {self.name.upper()} here: {missing}")
        return _call(self.function, job)

    def missing(self) -> Optional[str]:
        """Why this format cannot be made on this machine, or None."""
        return _call(self.requires) if self.requires else None


def _call(target: str, *args):
    module, function = target.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)(*args)


PRINTERS = (
    Printer("table", (), "terminal:print_table", "a table in the terminal; the default", terminal=True),
    Printer("json", (".json",), "json_out:print_json", "every node, edge and gradient as data",
            mime="application/json"),
    Printer("dot", (".dot", ".gv"), "dot:print_dot", "Graphviz source", mime="text/vnd.graphviz", draws=True),
    Printer("svg", (".svg",), "dot:print_svg", "the figure as SVG", mime="image/svg+xml", draws=True),
    Printer("png", (".png",), "dot:print_png", "the figure as PNG", binary=True, mime="image/png", draws=True),
    Printer("pdf", (".pdf",), "dot:print_pdf", "the figure as vector PDF", binary=True,
            mime="application/pdf", requires="dot:pdf_missing", draws=True),
    Printer("md", (".md", ".markdown"), "markdown:print_markdown", "a Markdown note with its figure",
            note=True, figure=("svg",), embeds=True, mime="text/markdown"),
    Printer("tex", (".tex",), "latex:print_latex", "a LaTeX document with its figure", note=True,
            figure=("pdf", "png"), mime="text/x-tex", compiles_to=".pdf"),
    Printer("html", (".html", ".htm"), "steps:print_html", "a step-through page of the backward pass",
            mime="text/html", draws=True),
)
FORMATS = tuple(p.name for p in PRINTERS)
EXTENSIONS = {ext: p.name for p in PRINTERS for ext in p.extensions}


def printer(name: str) -> Printer:
    for candidate in PRINTERS:
        if candidate.name == name:
            return candidate
    raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")


def choose_printer(out: Optional[str], fmt: Optional[str]) -> Printer:
    """``-f`` if given, else the extension of ``-o``: none prints a table, ``-`` writes JSON."""
    if fmt is not None:                 # -f "" is a format nobody has, not "no -f"
        chosen = printer(fmt.lower())
        named = EXTENSIONS.get(Path(out).suffix.lower()) if out not in (None, "-") else None
        if named is not None and named != chosen.name:
            raise UsageError(f"-o {out!r} names a {named} file but -f asks for {chosen.name}; "
                             f"change one of them")
        return chosen
    if out is None:
        return printer("table")
    if out == "-":
        return printer("json")
    ext = Path(out).suffix.lower()
    if ext not in EXTENSIONS:
        raise UsageError(f"cannot tell the format of {out!r} from its extension "
                         f"(known: {', '.join(sorted(EXTENSIONS))}); add -f FORMAT")
    return printer(EXTENSIONS[ext])
