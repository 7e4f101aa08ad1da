"""Shared helpers of the benchmark scripts: timing, machine description, tables.

Timing on a shared machine: every measurement is taken *interleaved* with its
baseline (the axpy memory floor, or the Keras twin of a loss), one sample of
each in turn, so that a burst of load from other processes hits both. Tables
report the median (the issue's statistic) and the minimum (the least disturbed
sample); ratios are computed from samples taken in the same rounds.
"""

import os
import platform
import statistics
import subprocess
import time


def interleaved(fns, repeats, warmup=2):
    """Time several zero-argument callables in round-robin order.

    Returns one list of `repeats` wall-clock samples (seconds) per callable.
    Each callable must block until its work is done.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples = [[] for _ in fns]
    for i in range(repeats):
        # Alternate the order so that no callable always runs right after another.
        order = range(len(fns)) if i % 2 == 0 else reversed(range(len(fns)))
        for j in order:
            start = time.perf_counter()
            fns[j]()
            samples[j].append(time.perf_counter() - start)
    return samples


def median(samples):
    return statistics.median(samples)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    try:
        return "%.1f / %.1f / %.1f" % os.getloadavg()
    except OSError:
        return "n/a"


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def versions():
    import keras

    backend = keras.backend.backend()
    parts = [f"Keras {keras.__version__}", f"backend {backend}"]
    if backend == "tensorflow":
        import tensorflow as tf

        parts.append(f"TensorFlow {tf.__version__}")
    elif backend == "jax":
        import jax

        parts.append(f"JAX {jax.__version__}")
    elif backend == "torch":
        import torch

        parts.append(f"PyTorch {torch.__version__}")
    import numpy as np

    parts.append(f"NumPy {np.__version__}")
    return ", ".join(parts)


def git_revision():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        rev = out.stdout.strip()
        # The result tables themselves change during a run: not a code change.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
             ":(top,exclude)benchmarks/results"],
            capture_output=True, text=True, timeout=10,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
        return rev + (" (+ uncommitted changes)" if dirty else "") if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_description():
    """One markdown paragraph saying where and when the numbers were taken."""
    return (
        f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, "
        f"{memory_gib():.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; {versions()}; "
        f"git {git_revision()}; load average at start (1/5/15 min): {load_average()}; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}."
    )


def markdown_table(header, rows, align=None):
    """`header`: column titles; `rows`: lists of cells (already formatted)."""
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def write_result(out_dir, filename, text):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, filename)
    with open(path, "w") as f:
        f.write(text)
    print(f"written {path}", flush=True)
    return path
