"""bpviz against micrograd, whole processes, on the same relu-MLP program (issue 14).

A relu MLP of fixed depth whose width grows with the size: D inputs, a hidden layer of H relu
neurons over every input, a second one of H relu neurons over FAN of the first (j, j+1, ... mod H),
an output neuron over the second layer and a squared error. Weights and inputs are values (inputs of
the program), given as decimal text in a JSON values file. micrograd builds, evaluates and
differentiates the same graph (same ops in the same order) from the same values file.

Each job runs as its own process (`bpviz expr - --values v.json -o out.json` against
`python engine_bench.py --micrograd v.json H`), interleaved, and the table gives medians of the
wall time and peak RSS, with ratios. Also: the tiny job and `--help` against a plain argparse front end
(reference_cli.py) over the same code.

    python benchmarks/engine_bench.py [--runs 5] [--sizes 1000,5000,20000,40000] [--compare DIR]

--compare DIR also times the bpviz package in DIR (DIR/bpviz/..., e.g. a copy of the tree before a
change) in the same interleaved runs, for before/after tables.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

D = 10        # inputs
FAN = 10      # fan-in of the second hidden layer
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent


def _w(i: int) -> str:
    """A deterministic small decimal weight in [-0.5, 0.5]."""
    return f"{((i * 37) % 11 - 5) / 10:.1f}"


def network(H: int) -> tuple:
    """(program text, values) of the relu MLP with hidden width H."""
    lines, values, k = [], {}, 0
    for i in range(D):
        values[f"x{i}"] = f"{(i % 5) - 2}.5"

    def layer(out: str, weight: str, bias: str, sources) -> None:
        """H relu units out{j} over sources(j), weights weight{j}_{i} and biases bias{j}."""
        nonlocal k
        for j in range(H):
            terms = []
            for i, source in enumerate(sources(j)):
                values[f"{weight}{j}_{i}"] = _w(k); k += 1
                terms.append(f"{weight}{j}_{i}*{source}")
            values[f"{bias}{j}"] = _w(k); k += 1
            lines.append(f"{out}{j} = relu({' + '.join(terms)} + {bias}{j})")
    layer("h", "a", "b", lambda j: [f"x{i}" for i in range(D)])
    layer("g", "c", "d", lambda j: [f"h{(j + f) % H}" for f in range(FAN)])
    terms = []
    for j in range(H):
        values[f"e{j}"] = _w(k); k += 1
        terms.append(f"e{j}*g{j}")
    values["y"] = "1"
    lines.append(f"o = {' + '.join(terms)}")
    lines.append("L = (o - y)**2")
    return "\n".join(lines) + "\n", values


def width_for(nodes: int) -> int:
    # per hidden unit: D weights, a bias, D muls, D adds and a relu, in each layer; 3 more on the output
    per = (3 * D + 2) + (3 * FAN + 2) + 3
    return max(2, round(nodes / per))


_BEFORE = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, {path!r})
from bpviz.cli import main
sys.argv[0] = "bpviz"
main()
"""


def micrograd_job(values_path: str, H: int) -> None:
    """Build, forward and backward of network(H) in micrograd (its forward runs while building)."""
    from micrograd.engine import Value
    raw = json.loads(Path(values_path).read_text())
    v = {name: Value(float(text)) for name, text in raw.items()}
    h = []
    for j in range(H):
        s = v[f"a{j}_0"] * v["x0"]
        for i in range(1, D):
            s = s + v[f"a{j}_{i}"] * v[f"x{i}"]
        h.append((s + v[f"b{j}"]).relu())
    g = []
    for j in range(H):
        s = v[f"c{j}_0"] * h[j % H]
        for f in range(1, FAN):
            s = s + v[f"c{j}_{f}"] * h[(j + f) % H]
        g.append((s + v[f"d{j}"]).relu())
    o = v["e0"] * g[0]
    for j in range(1, H):
        o = o + v[f"e{j}"] * g[j]
    loss = (o - v["y"]) ** 2
    loss.backward()
    print(json.dumps({"L": loss.data, "x0": v["x0"].grad}))


def _measure(cmd: list, stdin: str | None = None) -> tuple:
    """(wall seconds, peak RSS MB) of a child, timed from fork to exit (os.wait4 gives its RSS)."""
    start = time.perf_counter()
    r, w = os.pipe() if stdin is not None else (None, None)
    pid = os.fork()
    if pid == 0:                                                   # child
        if r is not None:
            os.dup2(r, 0); os.close(w)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    if r is not None:
        os.close(r)
        _write_all(w, stdin.encode())
        os.close(w)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_maxrss / 1024


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fit_exponent(xs: list, ys: list) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1e-6)) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main(argv: list) -> None:
    runs = 5
    sizes = [1000, 5000, 20000, 40000]
    if "--runs" in argv:
        runs = int(argv[argv.index("--runs") + 1])
    if "--sizes" in argv:
        sizes = [int(s) for s in argv[argv.index("--sizes") + 1].split(",")]
    before = argv[argv.index("--compare") + 1] if "--compare" in argv else None
    import importlib.util
    if importlib.util.find_spec("micrograd") is None:
        raise SystemExit("engine_bench.py needs micrograd: pip install -e '.[bench]' (make bench does)")
    py = sys.executable
    # An installed bpviz has its bytecode (pip compiles it at install time); an editable tree under
    # PYTHONDONTWRITEBYTECODE would be compiled from source by every process, so compile it once here.
    import compileall
    for tree in [ROOT / "bpviz"] + ([Path(before) / "bpviz"] if before else []):
        compileall.compile_dir(str(tree), quiet=1)
    bpviz = str(BIN / "bpviz")
    ref = [py, str(HERE / "reference_cli.py")]
    tmp = Path(tempfile.mkdtemp(prefix="bpviz-bench-"))
    jobs = {}                                   # label -> (cmd, stdin)
    small = [bpviz, "expr", "x*y", "--at", "x=1", "--at", "y=2"]
    jobs["tiny"] = (small, None)
    jobs["tiny ref"] = (ref + small[1:], None)
    # the fixed cost of a JSON job, for the growth fit (the tiny job above prints a rich table instead)
    jobs["tiny json"] = (small + ["-o", str(tmp / "tiny.json")], None)
    jobs["--help"] = ([bpviz, "--help"], None)
    jobs["--help ref"] = (ref + ["--help"], None)
    if before:                                  # the same jobs on another copy of the package
        runner = tmp / "before.py"
        runner.write_text(_BEFORE.format(path=str(Path(before).resolve())))
        old = [py, str(runner)]
        jobs["tiny before"] = (old + small[1:], None)
        jobs["--help before"] = (old + ["--help"], None)
        jobs["tiny json before"] = (old + jobs["tiny json"][0][1:], None)
    counts = {}
    for size in sizes:
        H = width_for(size)
        text, values = network(H)
        vpath = tmp / f"v{size}.json"
        vpath.write_text(json.dumps(values))
        jobs[f"json {size}"] = ([bpviz, "expr", "-", "--values", str(vpath), "-o", str(tmp / f"o{size}.json")], text)
        if before:
            jobs[f"json {size} before"] = (old + jobs[f"json {size}"][0][1:], text)
        jobs[f"micrograd {size}"] = ([py, str(HERE / "engine_bench.py"), "--micrograd", str(vpath), str(H)], None)
        counts[size] = H
    for cmd, stdin in jobs.values():            # warm the file cache once
        _measure(cmd, stdin)
    for size in sizes:
        counts[size] = len(json.loads((tmp / f"o{size}.json").read_text())["nodes"])
    times = {k: [] for k in jobs}
    rss = {k: [] for k in jobs}
    for _ in range(runs):                       # interleaved
        for label, (cmd, stdin) in jobs.items():
            t, m = _measure(cmd, stdin)
            times[label].append(t)
            rss[label].append(m)
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    mrss = {k: statistics.median(v) for k, v in rss.items()}
    print(f"bpviz vs references, whole processes, medians of {runs} interleaved runs")
    print(f"{'job':<22} {'bpviz':>8} {'MB':>6} {'reference':>10} {'MB':>6} {'time x':>7} {'RSS x':>6}  target")
    print(f"{'tiny json':<22} {med['tiny json']:>7.3f}s {mrss['tiny json']:>6.0f}")
    for label, refl, target in (("tiny", "tiny ref", 1.5), ("--help", "--help ref", 1.5)):
        print(f"{label:<22} {med[label]:>7.3f}s {mrss[label]:>6.0f} {med[refl]:>9.3f}s {mrss[refl]:>6.0f} "
              f"{med[label] / med[refl]:>7.2f} {mrss[label] / mrss[refl]:>6.2f}  time <= {target}x")
    for size in sizes:
        a, b = f"json {size}", f"micrograd {size}"
        print(f"{'json ' + str(counts[size]) + ' nodes':<22} {med[a]:>7.3f}s {mrss[a]:>6.0f} {med[b]:>9.3f}s "
              f"{mrss[b]:>6.0f} {med[a] / med[b]:>7.2f} {mrss[a] / mrss[b]:>6.2f}  time <= 3x, RSS <= 2x")
    if before:
        print(f"before (the package in {before}), same run:")
        for label, refl in [("tiny", "tiny ref"), ("--help", "--help ref")] + [(f"json {s}", f"micrograd {s}")
                                                                              for s in sizes]:
            b = f"{label} before"
            shown = f"json {counts[int(label[5:])]} nodes" if label.startswith("json") else label
            print(f"{shown:<22} {med[b]:>7.3f}s {mrss[b]:>6.0f} {med[refl]:>9.3f}s {mrss[refl]:>6.0f} "
                  f"{med[b] / med[refl]:>7.2f} {mrss[b] / mrss[refl]:>6.2f}")
        if len(sizes) > 1:
            xs = [counts[s] for s in sizes]
            exp = _fit_exponent(xs, [med[f"json {s} before"] - med["tiny json before"] for s in sizes])
            print(f"growth before: fitted exponent {exp:.2f}")
    if len(sizes) > 1:
        xs = [counts[s] for s in sizes]
        exp = _fit_exponent(xs, [med[f"json {s}"] - med["tiny json"] for s in sizes])
        print(f"growth: fitted exponent of (t - t_tiny json job) over {xs[0]}..{xs[-1]} nodes: {exp:.2f} (target <= 1.05)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--micrograd":
        micrograd_job(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1:])
