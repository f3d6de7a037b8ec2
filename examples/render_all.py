"""`make demo`: render every example with the installed `bpviz` command, as a user would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
OUT = ROOT / "docs" / "examples"
FORMATS = ["json"]


def bpviz() -> str:
    exe = shutil.which("bpviz", path=str(Path(sys.executable).parent))
    return exe or "bpviz"


def run(args: list) -> None:
    print("$ bpviz " + " ".join(args[1:]))
    subprocess.run(args, check=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    exe = bpviz()
    for program in sorted(EXAMPLES.glob("*.txt")):
        stem = program.stem
        values = program.with_name(f"{stem}.values.yaml")
        base = [exe, "expr", "-", "--values", str(values.relative_to(ROOT))]
        for fmt in FORMATS:
            with program.open() as stdin:
                print(f"$ bpviz expr - --values {values.relative_to(ROOT)} -o docs/examples/{stem}.{fmt}"
                      f" < {program.relative_to(ROOT)}")
                subprocess.run(base + ["-o", str(OUT / f"{stem}.{fmt}")], stdin=stdin, check=True, cwd=ROOT)
        with program.open() as stdin:
            subprocess.run(base, stdin=stdin, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
