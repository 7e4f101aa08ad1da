"""`make gallery`: runs every example and saves its figures and output for the docs.

    python docs/hooks/gallery.py                 # every examples/*.py
    python docs/hooks/gallery.py losses_tour     # only some

Each script runs as `__main__` in a fresh process with matplotlib's non-interactive
backend (its `plt.show()` returns at once); every figure left open is saved as
`docs/gallery/<example>/<figure label>.png`, what it printed as `output.txt`, and
how it was made (source hash, seconds, versions) as `meta.json`. The docs build reads
these files; it does not run the examples (minutes of training).
"""

import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from docs_site import EXAMPLES, GALLERY, ROOT, example_scripts, source_hash  # noqa: E402

DRIVER = r"""
import pathlib, runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
script, out = sys.argv[1], pathlib.Path(sys.argv[2])
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
labels = []
for number in plt.get_fignums():
    fig = plt.figure(number)
    labels.append(fig.get_label() or f"figure_{number}")
    fig.savefig(out / f"{labels[-1]}.png", dpi=100)
import keras
print("\x00meta", keras.__version__, keras.backend.backend(), ",".join(labels), file=sys.stderr)
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_example(path):
    out = GALLERY / path.stem
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(path), str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    seconds = round(time.perf_counter() - start)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"examples/{path.name} failed (exit {proc.returncode})")
    meta_line = next(line for line in proc.stderr.splitlines() if line.startswith("\x00meta"))
    _, keras_version, backend, *labels = meta_line.split()
    (out / "output.txt").write_text(_ANSI.sub("", proc.stdout).rstrip() + "\n")
    meta = {
        "source_sha256": source_hash(path),
        "command": f"python examples/{path.name}",
        "seconds": seconds,
        "keras": keras_version,
        "backend": backend,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "figures": [f"{label}.png" for label in ",".join(labels).split(",") if label],
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    figures = sorted(p.name for p in out.glob("*.png"))
    print(f"examples/{path.name}: {seconds} s, figures {figures}")


def main(names):
    scripts = example_scripts()
    if names:
        unknown = set(names) - {p.stem for p in scripts}
        if unknown:
            raise SystemExit(f"No such example(s) in {EXAMPLES}: {sorted(unknown)}")
        scripts = [p for p in scripts if p.stem in names]
    for path in scripts:
        run_example(path)


if __name__ == "__main__":
    main(sys.argv[1:])
