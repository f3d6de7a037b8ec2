"""`make demo`: render every example with the installed `bpviz` command, as a user would.

Step-through pages (``.html``) go to docs/examples/ too. Expression examples are ``examples/NAME.txt`` with their values in ``NAME.values.yaml``; spec
examples are ``examples/*.yaml`` (other than values files). Figures go to docs/img/, notes and
JSON to docs/examples/. The study notes in examples/notes/ get their blocks' figures in place
(`bpviz md`), in examples/notes/assets/.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
IMG = ROOT / "docs" / "img"
NOTES = ROOT / "docs" / "examples"
EXPR_OUTPUTS = ["docs/examples/{stem}.json", "docs/img/{stem}.svg", "docs/img/{stem}.png",
                "docs/examples/{stem}.md", "docs/examples/{stem}.html"]
EXTRA = [  # variants worth showing in the docs
    ["expr", "-", "--values", "examples/ng.values.yaml", "--theme", "dark", "-o", "docs/img/ng-dark.png"],
    ["expr", "-", "--values", "examples/ng.values.yaml", "--theme", "dark", "-o", "docs/examples/ng-dark.html"],
    ["expr", "-", "--values", "examples/ng.values.yaml", "--highlight", "w", "-o", "docs/img/ng-highlight-w.svg"],
    ["expr", "-", "--values", "examples/ng.values.yaml", "--lang", "zh", "--lr", "0.1", "--param", "w",
     "--param", "b", "-o", "docs/examples/ng.zh.md"],
    ["expr", "-", "--values", "examples/ng.values.yaml", "--lr", "0.1", "--param", "w", "--param", "b",
     "-o", "docs/examples/ng-step.md"],
    ["expr", "-", "--values", "examples/ng.values.yaml", "--lr", "0.1", "--param", "w,b", "-o",
     "docs/examples/ng.tex"],
]

BINARY_EXTRA = [  # the binarised neuron trained with a straight-through estimator (issue 17), one step
    ["expr", "-", "--values", "examples/binary-neuron.values.yaml", "--lr", "0.1", "--param", "w,b",
     "-o", "docs/examples/binary-neuron-step.md"],
    ["expr", "-", "--values", "examples/binary-neuron.values.yaml", "--lang", "zh", "--lr", "0.1", "--param",
     "w,b", "-o", "docs/examples/binary-neuron.zh.md"],
    ["expr", "-", "--values", "examples/binary-neuron.values.yaml", "--theme", "dark", "-o",
     "docs/img/binary-neuron-dark.png"],
]


SPEC_EXTRA = [
    ["spec", "examples/two-layer.yaml", "-o", "docs/examples/two-layer.html"],           # step-through pages
    ["spec", "examples/two-layer.yaml", "--lang", "zh", "-o", "docs/examples/two-layer.zh.html"],
    ["spec", "examples/two-layer.yaml", "--view", "matrix", "-o", "docs/img/two-layer-matrix.svg"],
    ["spec", "examples/two-layer.yaml", "--view", "matrix", "-o", "docs/examples/two-layer-matrix.md"],
    ["spec", "examples/two-layer.yaml", "--group", "neurons", "-o", "docs/img/two-layer-neurons.png"],
    ["spec", "examples/two-layer.yaml", "--group", "neurons", "-o", "docs/img/two-layer-neurons.svg"],
    ["spec", "examples/softmax.yaml", "--group", "neurons", "-o", "docs/img/softmax-neurons.svg"],
    ["spec", "examples/wide.yaml", "--group", "neurons", "-o", "docs/img/wide-neurons.svg"],
    ["spec", "examples/wide.yaml", "--group", "neurons", "--dpi", "96", "-o", "docs/img/wide-neurons.png"],
]


def bpviz() -> str:
    return shutil.which("bpviz", path=str(Path(sys.executable).parent)) or "bpviz"


def run(args: list, stdin: Path | None = None) -> None:
    args = [*args, "--renderer", "embedded"]   # the same bytes whether or not a system Graphviz is installed
    shown = "bpviz " + " ".join(shlex.quote(a) for a in args)
    print(f"$ {shown}" + (f" < {stdin.relative_to(ROOT)}" if stdin else ""), flush=True)
    with (stdin.open() if stdin else open("/dev/null")) as handle:
        subprocess.run([bpviz(), *args], stdin=handle, check=True, cwd=ROOT)


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    NOTES.mkdir(parents=True, exist_ok=True)
    for program in sorted(EXAMPLES.glob("*.txt")):
        stem = program.stem
        values = f"examples/{stem}.values.yaml"
        for target in EXPR_OUTPUTS:
            run(["expr", "-", "--values", values, "-o", target.format(stem=stem)], stdin=program)
    for args in EXTRA:
        run(args, stdin=EXAMPLES / "ng.txt")
    for args in BINARY_EXTRA:
        run(args, stdin=EXAMPLES / "binary-neuron.txt")
    for spec in sorted(EXAMPLES.glob("*.yaml")):
        if spec.name.endswith(".values.yaml"):
            continue
        path = f"examples/{spec.name}"
        if spec.stem.endswith("-batch"):          # a batch of samples: matrix view only
            for target in (f"docs/img/{spec.stem}.svg", f"docs/examples/{spec.stem}.md"):
                run(["spec", path, "--view", "matrix", "-o", target])
            continue
        run(["spec", path, "-o", f"docs/img/{spec.stem}.svg"])
        network = "layers:" in spec.read_text()   # networks read best neuron by neuron in a note
        run(["spec", path, *(["--group", "neurons"] if network else []), "-o", f"docs/examples/{spec.stem}.md"])
    for args in SPEC_EXTRA:
        run(args)
    run(["md", "examples/notes", "--in-place", "--prune"])     # the study notes' ```bpviz blocks
    print(f"\nrendered into {IMG.relative_to(ROOT)}/ and {NOTES.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
