"""The only module that touches the disk or runs programs: atomic writes and Graphviz."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from .errors import OutputError, RenderError, UsageError


def write_files(files: list) -> None:
    """Write every ``(path, content)`` in order, after checking that each target can be written,
    so a bad last target does not leave the first one replaced."""
    for path, _ in files:
        if path != "-":
            _target(path)
    for path, content in files:
        write_output(path, content)


def _target(path: str) -> tuple:
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"cannot write {path}: the directory {directory} does not exist")
    if target.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    return target, directory


def write_output(path: str, content: Union[str, bytes]) -> None:
    """Write to ``path`` atomically (temp file + rename); ``-`` means standard output."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target, directory = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


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
        proc = subprocess.run([command, "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"{command} does not run: {exc}") from None
    text = (proc.stderr or proc.stdout).strip().splitlines()
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


def render_graphviz(dot_source: str, fmt: str, renderer: Renderer, dpi: int = 144,
                    timeout: float = 120.0) -> bytes:
    """Run the renderer on DOT text; return the SVG or PNG bytes."""
    args = [renderer.command, f"-T{fmt}"]
    if fmt == "png":
        args.append(f"-Gdpi={dpi}")
    try:
        proc = subprocess.run(args, input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{renderer.kind} renderer timed out after {timeout:g} s "
                          f"(try --edge-labels none or a smaller graph)") from None
    except OSError as exc:
        raise RenderError(f"cannot run {renderer.command}: {exc.strerror or exc}") from None
    if proc.returncode != 0 or not proc.stdout:
        errors = [line for line in proc.stderr.decode("utf-8", "replace").splitlines()
                  if line.strip() and "Warning" not in line]
        reason = errors[0] if errors else f"exit status {proc.returncode}"
        raise RenderError(f"{renderer.kind} renderer ({os.path.basename(renderer.command)}) failed: {reason}")
    return proc.stdout
