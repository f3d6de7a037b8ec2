"""Render time next to bpviz's own work (run by `make bench`): 100 to 5,000 nodes of a local
diagram-like program, and 1,000 to 20,000 nodes of benchmarks/run.py's program, whose 50 inputs feed the
whole chain (the shape that made dot's layout quadratic before figures above 400 nodes drew shared
inputs as reference cards; docs/figures.md, "Renderers")."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import program as shared_program, timed  # noqa: E402

from bpviz.api import exact_values  # noqa: E402
from bpviz.autodiff import evaluate  # noqa: E402
from bpviz.errors import BpvizError  # noqa: E402
from bpviz.parse.expr import parse_program  # noqa: E402
from bpviz.render.dot import render_dot  # noqa: E402
from bpviz.write import choose_renderer, render_graphviz  # noqa: E402

TIMEOUT = 120


def program(target_nodes: int) -> tuple:
    """A diagram-like program: each step uses the two before it and a fresh input (local edges)."""
    lines, values = ["v0 = x0 * w0", "v1 = tanh(v0 + b1)"], {"x0": "0.5", "w0": "-1.5", "b1": "0.25"}
    i = 2
    while len(lines) * 4.0 < target_nodes:
        values[f"w{i}"] = f"{(i % 5) - 2}.5"
        f = ("tanh", "sigmoid", "sin")[i % 3]
        lines.append(f"v{i} = {f}(v{i - 1} * w{i} + v{i - 2})")
        i += 1
    lines.append(f"J = v{i - 1}**2 / 2")
    return "\n".join(lines), values


def main() -> None:
    renderers = {}
    for kind in ("embedded", "system"):
        try:
            renderers[kind] = choose_renderer(kind)
        except BpvizError as exc:
            print(f"({kind} renderer unavailable: {exc})")
    print()
    print("figure: bpviz work (parse..DOT text) vs Graphviz layout+render to SVG")
    header = f"{'nodes':>6} {'inputs':>6} {'bpviz':>8}" + "".join(f" {k + ' svg':>14} {'layout share':>13}" for k in renderers)
    print(header)
    cases = [("local", size) for size in (100, 1000, 5000)] + [("shared", size) for size in (1000, 4000, 20000)]
    for shape, size in cases:
        text, raw = (program if shape == "local" else shared_program)(size)
        values = exact_values(raw)
        start = time.perf_counter()
        graph = evaluate(parse_program(text), values)
        source = render_dot(graph)
        ours = time.perf_counter() - start
        row = f"{len(graph.nodes):>6} {shape:>6} {ours:>7.3f}s"
        for kind, renderer in renderers.items():
            try:
                _, seconds = timed(lambda: render_graphviz(source, "svg", renderer, timeout=TIMEOUT))
                row += f" {seconds:>13.2f}s {seconds / (seconds + ours):>12.0%}"
            except BpvizError as exc:
                row += f" {'> ' + str(TIMEOUT) + ' s' if 'timed out' in str(exc) else 'failed':>14} {'':>13}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
