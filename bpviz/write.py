"""The only module that touches the disk or runs programs: reading inputs with a size cap,
all-or-nothing atomic writes, and Graphviz."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .errors import OutputError, RenderError, UsageError


def read_text(source: str, limit: int, error: type, what: str) -> str:
    """The UTF-8 text of a file, or of standard input for ``-``, read with a cap: a larger input
    (``/dev/zero``, an endless pipe) is refused after ``limit`` bytes instead of read whole."""
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
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start + 1} is {data[exc.start]:#04x})") from None


def write_files(files: list) -> None:
    """Write every ``(path, content)`` all-or-nothing; ``-`` is standard output.

    Every target is checked first; new contents go to hidden temporary files beside their targets;
    only when all are staged are they renamed into place (an existing file keeps its mode, a
    symlink keeps pointing where it did). If a rename fails, the files already replaced are put
    back. Device files and pipes (``/dev/null``, ``/dev/stdout``) are written directly, never
    replaced. Temporary files are removed on every exit path, Ctrl-C included.
    """
    targets = [_Target(path, _bytes(content)) for path, content in files if path != "-"]
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
        _commit([t for t in staged if t.tmp is not None])
    finally:
        for target in staged:
            target.discard()
    for target in targets:
        if target.direct:
            target.write_directly()
    for path, content in files:
        if path == "-":
            _write_stdout(_bytes(content))


def _write_stdout(data: bytes) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise OutputError("cannot write standard output: it is closed")
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        raise OutputError(f"cannot write standard output: {exc.strerror or exc}") from None


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


def _bytes(content: Union[str, bytes]) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


class _Target:
    """One output file: where it really goes, and its staged temporary file."""

    def __init__(self, path: str, data: bytes):
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
                handle.write(self.data)
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
                handle.write(self.data)
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


def render_graphviz(dot_source: str, fmt: str, renderer: Renderer, dpi: int = 144,
                    timeout: float = 120.0) -> bytes:
    """Run the renderer on DOT text; return the SVG or PNG bytes."""
    args = [renderer.command, f"-T{fmt}"]
    if fmt == "png":
        inches = MAX_PNG_PIXELS / dpi
        args += [f"-Gdpi={dpi}", f"-Gsize={inches:.2f},{inches:.2f}"]
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
