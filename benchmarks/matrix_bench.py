"""Part of `make bench`: matrix mode on a real batch. 256 samples through a 784-128-10 network
(relu hidden layer, softmax + cross-entropy), values from a fixed seed in a JSON values file.

Measured in one run, interleaved, median of RUNS:
  * in-process: parse -> shapes -> forward -> backward (values already loaded), against the same
    forward and backward written directly in numpy (target: at most 3x numpy), with BLAS on one
    thread (steady on a busy machine) and with BLAS's threads as installed;
  * the values file alone (JSON -> float64 arrays);
  * the whole command `bpviz expr @net.txt --values v.json -o out.json` (target < 2 s);
  * the shape-only derivation `bpviz expr @net.txt --shape ... -o out.json` (target < 0.5 s).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpviz.autodiff import evaluate, forward_arrays, infer_shapes  # noqa: E402
from bpviz.parse.expr import parse_program  # noqa: E402
from bpviz.values import load_values_file  # noqa: E402

RUNS = 7
INNER = 10           # in-process pairs (numpy, bpviz) per run: RUNS × INNER of them
N, D, H, C = 256, 784, 128, 10
PROGRAM = """\
Z1 = X @ W1 + b1
A1 = relu(Z1)
Z2 = A1 @ W2 + b2
P = softmax(Z2)
J = -sum(Y * log(P)) / 256
"""
SHAPES = "X=(N,Dx), W1=(Dx,H), b1=(H,), W2=(H,C), b2=(C,), Y=(N,C)"
TARGETS = {"ratio": 3.0, "command": 2.0, "shapes": 0.5}


def make_values(seed: int = 0) -> dict:
    """MNIST-like pixels in [0, 1], He-initialised weights, one-hot labels; rounded so the file reads
    like one a person would write (a few MB)."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.random((N, D)), 3)
    w1 = np.round(rng.standard_normal((D, H)) * np.sqrt(2 / D), 6)
    b1 = np.round(rng.standard_normal(H) * 0.01, 6)
    w2 = np.round(rng.standard_normal((H, C)) * np.sqrt(2 / H), 6)
    b2 = np.round(rng.standard_normal(C) * 0.01, 6)
    y = np.zeros((N, C))
    y[np.arange(N), rng.integers(0, C, N)] = 1
    return {"X": x, "W1": w1, "b1": b1, "W2": w2, "b2": b2, "Y": y}


def numpy_forward_backward(v: dict) -> tuple:
    """The same network's loss and every input's gradient, written by hand in numpy."""
    x, w1, b1, w2, b2, y = (v[k] for k in ("X", "W1", "b1", "W2", "b2", "Y"))
    z1 = x @ w1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.sum(y * np.log(p)) / N
    dz2 = (p - y) / N
    dw2 = a1.T @ dz2
    db2 = dz2.sum(axis=0)
    da1 = dz2 @ w2.T
    dz1 = da1 * (z1 > 0)
    dw1 = x.T @ dz1
    db1 = dz1.sum(axis=0)
    dx = dz1 @ w1.T
    dy = -np.log(p) / N
    return loss, {"X": dx, "W1": dw1, "b1": db1, "W2": dw2, "b2": db2, "Y": dy}


def bpviz_in_process(values: dict):
    graph = parse_program(PROGRAM)
    return evaluate(graph, values)


def stages(values: dict) -> dict:
    """One run split into parse, shapes, forward, and the whole evaluate (shapes + forward + backward)."""
    t0 = time.perf_counter()
    graph = parse_program(PROGRAM)
    t1 = time.perf_counter()
    infer_shapes(graph, {name: np.shape(v) for name, v in values.items()})
    t2 = time.perf_counter()
    forward_arrays(graph, values)
    t3 = time.perf_counter()
    evaluate(parse_program(PROGRAM), values)
    t4 = time.perf_counter()
    return {"parse": t1 - t0, "shapes": t2 - t1, "forward": t3 - t2, "evaluate": t4 - t3}


def command(args: list, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bpviz", *args], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bpviz {' '.join(args)} failed:\n{proc.stderr}")
    return seconds


def check_agreement(graph, reference: tuple) -> float:
    """Largest relative difference between bpviz's gradients and numpy's (they must agree)."""
    loss, grads = reference
    worst = abs(float(graph.out.value) - loss) / abs(loss)
    for name, want in grads.items():
        got = np.asarray(graph.node(name).grad, dtype=float)
        worst = max(worst, float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)))
    return worst


def in_process(values_path: Path) -> dict:
    """RUNS runs of INNER back-to-back (numpy, bpviz) pairs, plus bpviz's stages and the values file's
    load once per run; every list of seconds by name."""
    values_raw = {k: np.asarray(v, dtype=float) for k, v in json.loads(values_path.read_text()).items()}
    values = load_values_file(str(values_path))
    bpviz_in_process(values)                                        # warm-up
    timings: dict = {key: [] for key in ("numpy", "bpviz", "parse", "shapes", "forward", "load")}
    for _ in range(RUNS):
        for _ in range(INNER):                # milliseconds each: many pairs, back to back
            start = time.perf_counter()
            numpy_forward_backward(values_raw)
            timings["numpy"].append(time.perf_counter() - start)
            start = time.perf_counter()
            bpviz_in_process(values)
            timings["bpviz"].append(time.perf_counter() - start)
        for key, seconds in stages(values).items():
            if key != "evaluate":
                timings[key].append(seconds)
        start = time.perf_counter()
        load_values_file(str(values_path))
        timings["load"].append(time.perf_counter() - start)
    return timings


def one_blas_thread(values_path: Path) -> dict:
    """``in_process`` in a child whose BLAS runs on one thread: on a busy machine a multi-threaded
    matrix product stalls whenever one of its threads is descheduled (0.5 ms becomes 8-15 ms on 2
    cores), and the stalls, not bpviz, would decide the ratio."""
    env = {**os.environ, **{k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    proc = subprocess.run([sys.executable, __file__, "--in-process", str(values_path)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def summary(timings: dict) -> dict:
    med = {key: statistics.median(times) for key, times in timings.items()}
    # each pair ran back to back, so a burst of load elsewhere slows both: the median of the pairs'
    # ratios is steadier than the ratio of the medians (both are printed)
    med["ratio"] = statistics.median(b / a for a, b in zip(timings["numpy"], timings["bpviz"]))
    return med


def main() -> None:
    values_raw = make_values()
    verdict = lambda ok: "ok" if ok else "MISSED"  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "net.txt").write_text(PROGRAM)
        values_path = folder / "v.json"
        values_path.write_text(json.dumps({k: v.tolist() for k, v in values_raw.items()}))
        size = values_path.stat().st_size
        worst = check_agreement(bpviz_in_process(load_values_file(str(values_path))),
                                numpy_forward_backward(values_raw))
        if worst > 1e-12:
            raise SystemExit(f"bpviz and numpy disagree: largest relative difference {worst:.1e}")
        print(f"\nmatrix mode: {N} samples through a {D}-{H}-{C} network (relu, softmax + cross-entropy); "
              f"medians of {RUNS} interleaved runs ({RUNS * INNER} in-process pairs)")
        print(f"  values file {size / 1e6:.1f} MB JSON; bpviz's gradients agree with numpy's to {worst:.0e}")
        for label, timings in (("BLAS on one thread", one_blas_thread(values_path)),
                               ("BLAS threads as installed", in_process(values_path))):
            med = summary(timings)
            backward = med["bpviz"] - med["parse"] - med["shapes"] - med["forward"]
            print(f"  {label}:")
            print(f"    numpy forward+backward (by hand)      {med['numpy'] * 1e3:8.1f} ms")
            print(f"    bpviz parse->shapes->forward->backward {med['bpviz'] * 1e3:7.1f} ms   (parse "
                  f"{med['parse'] * 1e3:.1f}, shapes {med['shapes'] * 1e3:.1f}, forward {med['forward'] * 1e3:.1f}, "
                  f"backward ≈ {backward * 1e3:.1f})")
            print(f"    ratio bpviz / numpy (median of pairs) {med['ratio']:6.2f}x    target <= {TARGETS['ratio']:g}x: "
                  f"{verdict(med['ratio'] <= TARGETS['ratio'])}   (ratio of medians "
                  f"{med['bpviz'] / med['numpy']:.2f}x)")
        print(f"  values file load (JSON -> float64)      {med['load'] * 1e3:8.1f} ms")
        timings = {"command": [], "shapes": []}
        for _ in range(RUNS):                     # interleaved
            timings["command"].append(command(["expr", "@net.txt", "--values", "v.json", "-o", "out.json"], folder))
            timings["shapes"].append(command(["expr", "@net.txt", "--shape", SHAPES, "-o", "shapes.json"], folder))
        out_size = (folder / "out.json").stat().st_size
    med = {key: statistics.median(times) for key, times in timings.items()}
    print(f"  bpviz expr --values v.json -o out.json  {med['command']:7.2f} s    target < {TARGETS['command']:g} s: "
          f"{verdict(med['command'] < TARGETS['command'])}   (out.json {out_size / 1e6:.1f} MB)")
    print(f"  bpviz expr --shape ... -o shapes.json   {med['shapes']:7.2f} s    "
          f"target < {TARGETS['shapes']:g} s: {verdict(med['shapes'] < TARGETS['shapes'])}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--in-process"]:
        print(json.dumps(in_process(Path(sys.argv[2]))))
    else:
        main()
