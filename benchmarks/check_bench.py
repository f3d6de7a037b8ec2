"""Part of `make bench`: `--check` end to end (whole process), next to the same job without it.

Programs: scalar relu-MLPs of about 1k, 5k and 20k nodes (every weight an input, so the number of
inputs grows with the graph: per-input finite differences would cost inputs × nodes), and
examples/wide.yaml. Runs are interleaved (check, no check), RUNS of each; medians are printed.
Targets (issue 14): --check on the 1k-node program <= 3 s and on wide.yaml <= 1 s.

    python benchmarks/check_bench.py            # the table
    python benchmarks/check_bench.py --quick    # 1k and wide.yaml only, 3 runs
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
TARGETS = {"mlp-1k": 3.0, "wide.yaml": 1.0}
TIMEOUT = 600


def relu_mlp(widths: list) -> tuple:
    """A scalar relu-MLP, one line per neuron: (program text, values by name). Deterministic."""
    lines, values = [], {}
    previous = [f"x{i}" for i in range(widths[0])]
    for i, name in enumerate(previous):
        values[name] = (i * 37) % 19 / 10 - 0.9
    k = 0
    for layer, width in enumerate(widths[1:], 1):
        current = []
        for j in range(width):
            terms = []
            for i, name in enumerate(previous):
                weight = f"w{layer}_{j}_{i}"
                values[weight] = ((k * 53) % 41 - 20) / 50
                k += 1
                terms.append(f"{weight}*{name}")
            bias = f"b{layer}_{j}"
            values[bias] = ((k * 29) % 11 - 5) / 100
            k += 1
            act = "relu" if layer < len(widths) - 1 else ""
            lines.append(f"h{layer}_{j} = {act}({' + '.join(terms)} + {bias})")
            current.append(f"h{layer}_{j}")
        previous = current
    lines.append("J = (" + " + ".join(f"({name} - 0.5)**2" for name in previous) + f") / {len(previous)}")
    return "\n".join(lines), values


PROGRAMS = {                       # name -> layer widths (about this many nodes)
    "mlp-1k": [8, 12, 12, 4],      # 931 nodes, 324 inputs
    "mlp-5k": [16, 32, 24, 8],     # ~4.5k nodes
    "mlp-20k": [32, 64, 64, 16],   # ~19k nodes
}


def command(args: list, cwd: Path) -> tuple:
    """(seconds, exit code, last line of output) of one whole `bpviz` process."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "bpviz", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return float("inf"), -1, f"timed out after {TIMEOUT} s"
    seconds = time.perf_counter() - start
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return seconds, proc.returncode, lines[-1] if lines else ""


def jobs(tmp: Path, names: list) -> dict:
    """name -> bpviz arguments (without --check) writing JSON."""
    result = {}
    for name in names:
        if name == "wide.yaml":
            result[name] = ["spec", str(ROOT / "examples" / "wide.yaml"), "-o", str(tmp / "wide.json")]
            continue
        text, values = relu_mlp(PROGRAMS[name])
        (tmp / f"{name}.txt").write_text(text)
        (tmp / f"{name}.json").write_text(json.dumps(values))
        result[name] = ["expr", f"@{tmp / (name + '.txt')}", "--values", str(tmp / f"{name}.json"),
                        "-o", str(tmp / f"{name}.out.json")]
    return result


def main() -> None:
    quick = "--quick" in sys.argv
    names = ["mlp-1k", "wide.yaml"] + ([] if quick else ["mlp-5k", "mlp-20k"])
    runs = 3 if quick else RUNS
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        todo = jobs(tmp, names)
        seconds = {(name, mode): [] for name in names for mode in ("check", "plain")}
        notes = {}
        for _ in range(runs):
            for name, args in todo.items():
                for mode in ("check", "plain"):
                    if (name, mode) in notes:
                        continue             # a refusal or a timeout: one run says enough
                    t, code, last = command(args + (["--check"] if mode == "check" else []), tmp)
                    seconds[name, mode].append(t if code == 0 else float("inf"))
                    if code != 0:
                        notes[name, mode] = f"exit {code}: {last}"
        nodes = {}
        for name in names:
            out = tmp / ("wide.json" if name == "wide.yaml" else f"{name}.out.json")
            if out.exists():
                data = json.loads(out.read_text())
                nodes[name] = (len(data["nodes"]), len(data["values"]))
        print("--check, whole process (medians; the same job without --check next to it)")
        print(f"{'program':>10} {'nodes':>7} {'inputs':>7} {'--check':>9} {'plain':>8} {'target':>8}")
        for name in names:
            check = statistics.median(seconds[name, "check"])
            plain = statistics.median(seconds[name, "plain"])
            target = TARGETS.get(name)
            verdict = "" if target is None else f"<= {target:.0f} s {'ok' if check <= target else 'MISSED'}"
            n, i = nodes.get(name, ("?", "?"))
            print(f"{name:>10} {n:>7} {i:>7} {check:>8.2f}s {plain:>7.2f}s  {verdict}")
        for (name, mode), note in notes.items():
            print(f"  {name} ({mode}): {note}")


if __name__ == "__main__":
    main()
