"""The one error hierarchy of bpviz: every user-facing failure is a BpvizError."""

from __future__ import annotations


class BpvizError(Exception):
    """A problem with the user's input or environment, reported as one clean message.

    ``exit_code`` is what the CLI exits with (1 for bad input, 2 for bad usage);
    ``detail`` holds optional extra lines (a source line and a caret).
    """

    exit_code = 1

    def __init__(self, message: str, *, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ParseError(BpvizError):
    """The program text is not a valid bpviz program."""

    def __init__(self, message: str, *, source: str | None = None,
                 line: int | None = None, column: int | None = None):
        where = ""
        if line is not None and column is not None:
            where = f"line {line}, column {column}: " if _multiline(source) else f"column {column}: "
        detail = None
        if source is not None and line is not None and column is not None:
            lines = source.split("\n") or [""]
            text, caret = _window(lines[min(line, len(lines)) - 1], max(column - 1, 0))
            detail = f"  {text}\n  {_under(text[:caret])}^"
        super().__init__(f"syntax error at {where}{message}" if where else f"syntax error: {message}",
                         detail=detail)
        self.line, self.column = line, column


WINDOW = 60     # characters of a long line shown on each side of the caret


def _window(text: str, at: int) -> tuple:
    """The part of a long line around column ``at``, and where the caret goes in it."""
    start = max(0, at - WINDOW)
    end = min(len(text), at + WINDOW)
    prefix = "…" if start else ""
    return prefix + text[start:end] + ("…" if end < len(text) else ""), at - start + len(prefix)


def _under(before: str) -> str:
    r"""The blank that puts a caret under the character after ``before`` in a terminal: a wide
    character (CJK, fullwidth) takes two cells, a combining mark none, a tab stays a tab.

    >>> len(_under("J = ")), len(_under("J = 变量 +")), _under("\tx") == "\t "
    (4, 10, True)
    """
    import unicodedata
    return "".join("\t" if c == "\t" else "" if unicodedata.combining(c)
                   else "  " if unicodedata.east_asian_width(c) in "WF" else " " for c in before)


def clip(text: str, limit: int = 40) -> str:
    """User text quoted in a message, cut to ``limit`` characters: a huge input gives a short line.

    >>> clip("w=2"), clip("x=1," * 20, 8)
    ('w=2', 'x=1,x=1,…')
    """
    return text if len(text) <= limit else text[:limit] + "…"


def name_list(names, limit: int = 12) -> str:
    """Names for a message, the first ``limit`` of them and how many more.

    >>> name_list(["a", "b"]), name_list([f"x{i}" for i in range(20)], 3)
    ('a, b', 'x0, x1, x2 and 17 more')
    """
    names = list(names)
    shown = ", ".join(clip(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def _multiline(source: str | None) -> bool:
    return bool(source) and len(source.strip().splitlines()) > 1


class ProgramError(BpvizError):
    """The program is well-formed but meaningless: cycles, reassignments, unknown names."""


class InputError(BpvizError):
    """A file or standard input cannot be read: missing, too large, not UTF-8 text."""


class ValuesError(BpvizError):
    """Missing, unknown or malformed input values."""


class DomainError(BpvizError):
    """A function is undefined at the given point (log(0), division by zero, ...). Raised at a node,
    it keeps where the node is: ``where`` as the message says it ("line 2, column 5") and ``line``."""

    def __init__(self, message: str, *, detail: str | None = None, where: str | None = None,
                 line: int | None = None):
        super().__init__(message, detail=detail)
        self.where, self.line = where, line


class SpecError(BpvizError):
    """A YAML spec is malformed: the message names the key path and line."""


class RenderError(BpvizError):
    """A renderer is missing, failed or timed out."""


class OutputError(BpvizError):
    """An output file cannot be written."""


class UsageError(BpvizError):
    """Bad command-line usage (unknown format, conflicting options)."""

    exit_code = 2


class CheckFailed(BpvizError):
    """``--check`` found gradients that disagree with the independent answers."""
