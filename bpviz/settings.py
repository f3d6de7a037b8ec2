"""Settings objects that refuse unknown keys (as sympy's printer settings do), so a misspelt
option is an error instead of a silent default."""

from __future__ import annotations

from dataclasses import fields

from .errors import UsageError


def make_settings(cls, settings: dict, what: str = "option(s)"):
    """``cls(**settings)`` for a dataclass, refusing unknown keys; None means "the default".

    >>> from bpviz.api import Options
    >>> make_settings(Options, {"digits": 6, "out": None}).digits
    6
    >>> make_settings(Options, {"colour": "red"})
    Traceback (most recent call last):
    bpviz.errors.UsageError: unknown option(s): colour
    """
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UsageError(f"unknown {what}: {', '.join(unknown)}")
    return cls(**{k: v for k, v in settings.items() if v is not None})
