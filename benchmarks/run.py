"""`make bench`: time bpviz's pipeline on generated programs of growing size.

Prints parse+graph, forward+backward and JSON times for 1k, 5k and 20k nodes, and the 20k/1k
ratio (linear growth means about 20); then whole `bpviz` processes against micrograd and a plain
argparse front end (engine_bench.py), notes, figures and matrix mode (notes_bench.py,
render_bench.py, matrix_bench.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpviz.autodiff import evaluate  # noqa: E402
from bpviz.parse.expr import parse_program  # noqa: E402
from bpviz.render.json_out import render_json  # noqa: E402

FUNCS = ["tanh", "sigmoid", "sin", "softplus"]


def program(target_nodes: int) -> tuple:
    """A deterministic program with about ``target_nodes`` nodes and fan-out everywhere."""
    lines, values = [], {}
    inputs = 50
    for i in range(inputs):
        values[f"x{i}"] = f"{(i % 7) - 3}.5"
    lines.append("v0 = x0 * x1")
    i = 1
    while True:
        a, b = f"v{i - 1}", f"v{max(i - 7, 0)}"
        x = f"x{i % inputs}"
        kind = i % 4
        if kind == 0:
            rhs = f"{FUNCS[i % len(FUNCS)]}({a} * {x} + {b})"
        elif kind == 1:
            rhs = f"{a} - {b} / (1 + {x}**2)"
        elif kind == 2:
            rhs = f"({a} + {x}) * 0.5"
        else:
            rhs = f"{a} * {b} - {x}"
        lines.append(f"v{i} = {rhs}")
        i += 1
        if i * 2.28 >= target_nodes:
            break
    lines.append(f"J = v{i - 1}**2 / 2")
    used = {f"x{(j % inputs)}" for j in range(i)} | {"x0", "x1"}
    return "\n".join(lines), {k: v for k, v in values.items() if k in used}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_core(size: int) -> dict:
    from bpviz.api import exact_values
    text, raw = program(size)
    values = exact_values(raw)
    graph, t_parse = timed(lambda: parse_program(text))
    _, t_eval = timed(lambda: evaluate(graph, values))
    _, t_json = timed(lambda: render_json(graph))
    return {"nodes": len(graph.nodes), "parse": t_parse, "autodiff": t_eval, "json": t_json,
            "total": t_parse + t_eval + t_json}


def main() -> None:
    rows = [bench_core(n) for n in (1000, 5000, 20000)]
    print("bpviz core pipeline (parse -> graph -> forward -> backward -> JSON)")
    print(f"{'nodes':>7} {'parse+graph':>12} {'fwd+bwd':>9} {'json':>8} {'total':>8}")
    for r in rows:
        print(f"{r['nodes']:>7} {r['parse']:>11.3f}s {r['autodiff']:>8.3f}s {r['json']:>7.3f}s "
              f"{r['total']:>7.3f}s")
    ratio = rows[-1]["total"] / rows[0]["total"]
    print(f"20k/1k time ratio: {ratio:.1f} (linear is ~{rows[-1]['nodes'] / rows[0]['nodes']:.0f}; "
          f"target <= 25); 20k total target < 2 s: {'ok' if rows[-1]['total'] < 2 else 'MISSED'}")
    # each in its own process: a child forked from this one, grown by the runs above, would report
    # this process's memory as its peak RSS and pay for copying it at every fork
    import subprocess
    for extra in ("engine_bench.py", "notes_bench.py", "render_bench.py", "matrix_bench.py", "check_bench.py",
                  "md_bench.py"):
        sys.stdout.flush()
        subprocess.run([sys.executable, str(Path(__file__).with_name(extra))], check=True)


if __name__ == "__main__":
    main()
