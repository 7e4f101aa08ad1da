"""Run every benchmark on every backend; one command, tables in results/.

    python benchmarks/run_all.py            # full run (10M-parameter optimizer steps)
    python benchmarks/run_all.py --quick    # 1M parameters, few repeats: a smoke run
    python benchmarks/run_all.py --backends tensorflow --skip doctor

Each benchmark runs in a fresh process per backend (the Keras backend is fixed at
import), one after the other, so they never compete for the CPU with each other.
Results: benchmarks/results/optimizer_step_<backend>.md,
loss_step_<backend>.md, sam_step_<backend>.md and doctor_overhead_tensorflow.md.
loss_step_<backend>.md, torch_peers.md and doctor_overhead_tensorflow.md.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BACKENDS = ("tensorflow", "jax", "torch")


def jobs(args):
    quick = args.quick
    opt = ["--eager"] + (["--params", "1000000", "--repeats", "5", "--eager-repeats", "3"]
                         if quick else [])
    loss = (["--repeats", "3", "--pairwise-repeats", "1", "--pairwise-batches", "256,1024"]
            if quick else [])
    for backend in args.backends:
        if "optimizer" not in args.skip:
            yield backend, "optimizer_step.py", opt + ["--out", args.out], None
        if "loss" not in args.skip:
            extra = ["--xla"] if backend == "tensorflow" else []
            if backend == "torch" and not quick:
                # Eager PyTorch at B=4096 needs ~5 GB and ~2 minutes for the semi-hard
                # triplet loss alone; the O(B^2) scaling shows at 256 and 1024.
                extra = ["--pairwise-batches", "256,1024"]
            yield backend, "loss_step.py", loss + extra + ["--out", args.out], None
        if "sam" not in args.skip:
            # Eager PyTorch on CPU: ~0.3 s per MLP step, more for the CNN; fewer rounds.
            sam = (["--steps", "10", "--repeats", "2"] if quick
                   else ["--steps", "10", "--repeats", "3"] if backend == "torch" else [])
            yield backend, "sam_step.py", sam + ["--out", args.out], None
    if "peers" not in args.skip and "torch" in args.backends:
        peers = ["--params", "1000000", "--repeats", "5"] if quick else []
        yield "torch", "torch_peers.py", peers + ["--out", args.out], None
    if "peers" not in args.skip and "jax" in args.backends:
        peers = ["--params", "1000000", "--repeats", "5"] if quick else []
        yield "jax", "jax_peers.py", peers + ["--out", args.out], None
    if "doctor" not in args.skip and "tensorflow" in args.backends:
        doctor = ["--steps", "100", "--repeats", "3", "--lr-steps", "50"] if quick else []
        yield "tensorflow", "doctor_overhead.py", doctor, "doctor_overhead_tensorflow.md"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        type=lambda s: [b for b in s.split(",") if b])
    parser.add_argument("--skip", default="", type=lambda s: [b for b in s.split(",") if b],
                        help="comma-separated: optimizer, loss, sam, peers, doctor")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    sys.path.insert(0, HERE)
    from _common import machine_description, write_result

    failures = []
    for backend, script, script_args, capture in jobs(args):
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        command = [sys.executable, os.path.join(HERE, script), *script_args]
        print(f"\n=== {backend}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        result = subprocess.run(command, env=env, cwd=os.path.dirname(HERE),
                                capture_output=capture is not None, text=True)
        if capture is not None:
            print(result.stdout, end="")
            print(result.stderr[-3000:], end="", file=sys.stderr)
            if result.returncode == 0:
                write_result(args.out, capture,
                             f"# {script} ({backend})\n\n"
                             f"{machine_description()}\n\n```\n{result.stdout}```\n")
        print(f"--- {script} on {backend}: exit {result.returncode}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        if result.returncode != 0:
            failures.append(f"{script} ({backend})")
    if failures:
        sys.exit("failed: " + ", ".join(failures))
    if os.path.abspath(args.out) == os.path.join(HERE, "results"):
        update_readme(args.out)


RESULT_FILES = (
    ("Optimizer step, TensorFlow", "optimizer_step_tensorflow.md"),
    ("Optimizer step, JAX", "optimizer_step_jax.md"),
    ("Optimizer step, PyTorch (eager)", "optimizer_step_torch.md"),
    ("Optimizer step, PyTorch: ours against torch.optim and pytorch_optimizer", "torch_peers.md"),
    ("Optimizer step, JAX: ours against optax", "jax_peers.md"),
    ("Losses, TensorFlow", "loss_step_tensorflow.md"),
    ("Losses, JAX", "loss_step_jax.md"),
    ("Losses, PyTorch (eager)", "loss_step_torch.md"),
    ("TrainingDoctor and LR finder overhead, TensorFlow", "doctor_overhead_tensorflow.md"),
    ("SAM step against the plain step, TensorFlow", "sam_step_tensorflow.md"),
    ("SAM step against the plain step, JAX", "sam_step_jax.md"),
    ("SAM step against the plain step, PyTorch", "sam_step_torch.md"),
    # Not run by run_all (minutes per row); their committed tables are copied.
    ("Matrix-preconditioned optimizer steps, TensorFlow", "matrix_step_tensorflow.md"),
    ("Matrix-preconditioned optimizer steps, JAX", "matrix_step_jax.md"),
    ("Matrix optimizers on digits, JAX", "matrix_evidence_jax.md"),
)
START, END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(results_dir):
    """Copies the result tables into benchmarks/README.md between its markers.

    Generated, so that the README's tables are always those of the files next to
    it (the prose above the markers quotes them and is written by hand).
    """
    readme = os.path.join(HERE, "README.md")
    with open(readme) as f:
        text = f.read()
    if START not in text or END not in text:
        return
    parts = [START, ""]
    for title, name in RESULT_FILES:
        path = os.path.join(results_dir, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            body = f.read().split("\n", 1)[1].strip()  # drop the file's own heading
        # Its sub-headings go two levels down, under this file's "###" title.
        body = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", body,
                      flags=re.MULTILINE)
        parts += [f"### {title}", "", body, ""]
    text = text[: text.index(START)] + "\n".join(parts) + END + text[text.index(END) + len(END):]
    with open(readme, "w") as f:
        f.write(text)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
