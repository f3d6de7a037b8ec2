"""`bpviz md` on a folder of notes (issue 15): 50 notes holding 200 ```bpviz blocks — 150 small
expression programs (at most 15 nodes) and 50 network specs the size of examples/two-layer.yaml —
figures only, with the embedded renderer (graphviz-pure). Times the first run and a re-run with
nothing changed (which must only read the notes and look at the images). Whole processes, as a
user runs it.

    python benchmarks/md_bench.py [--runs 3]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTES, PER_NOTE = 50, 4                   # 200 blocks: 3 programs and 1 spec per note
SPEC = (ROOT / "examples" / "two-layer.yaml").read_text()
FUNCS = ("sigmoid", "tanh", "relu", "exp", "softplus")


def program(k: int) -> tuple:
    """A small program (about 10-15 nodes) that differs from note to note, and its values."""
    f, g = FUNCS[k % len(FUNCS)], FUNCS[(k + 2) % len(FUNCS)]
    text = (f"u = w*x + b\nv = {f}(u) * c\nq = {g}(v - y) + u/2\nJ = (q - t)**2 / 2")
    at = f"w={k % 7 - 3}.5, x=0.{k % 9 + 1}, b=1, c=2, y=0.25, t={k % 5}"
    return text, at


def spec(k: int) -> str:
    return SPEC.replace("x1: 0.05", f"x1: 0.{k + 10:02d}")


def make_notes(folder: Path) -> int:
    blocks = 0
    for n in range(NOTES):
        parts = [f"# Note {n}\n"]
        for j in range(PER_NOTE - 1):
            text, at = program(n * PER_NOTE + j)
            parts.append(f"Program {j}:\n\n```bpviz at=\"{at}\"\n{text}\n```\n")
            blocks += 1
        parts.append(f"A network:\n\n```bpviz\n{spec(n)}```\n")
        blocks += 1
        (folder / f"note-{n:02d}.md").write_text("\n".join(parts), encoding="utf-8")
    return blocks


def timed(cmd: list) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return elapsed


def main(argv: list) -> None:
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    import compileall
    compileall.compile_dir(str(ROOT / "bpviz"), quiet=1)
    bpviz = str(Path(sys.executable).parent / "bpviz")
    first, again = [], []
    for _ in range(runs):
        folder = Path(tempfile.mkdtemp(prefix="bpviz-md-bench-"))
        try:
            blocks = make_notes(folder)
            cmd = [bpviz, "md", str(folder), "--in-place", "--renderer", "embedded"]
            first.append(timed(cmd))
            again.append(timed(cmd))
            images = len(list((folder / "assets").iterdir()))
            assert images == blocks, (images, blocks)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"bpviz md: {NOTES} notes, {blocks} blocks (150 programs, 50 two-layer specs), embedded renderer, "
          f"medians of {runs}")
    print(f"  first run           {statistics.median(first):6.2f} s   (target < 60 s)")
    print(f"  re-run, no changes  {statistics.median(again):6.2f} s   (target < 1 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
