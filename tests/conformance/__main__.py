"""`python -m tests.conformance` (from the repository root): run the harness, write the report.

    python -m tests.conformance                      # all backends, one process each
    python -m tests.conformance --backends tensorflow
    python -m tests.conformance --from-results DIR   # report from pytest's results (CI)
    python -m tests.conformance --only gd,rmse --imports my_module --output /tmp/report.md

The report goes to the repository's docs/conformance.md unless `--output` says
otherwise. Exit status 1 when any check FAILs or the backends disagree.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tests.conformance")
    p.add_argument("--backends", default="tensorflow,jax,torch")
    p.add_argument("--from-results", dest="from_results", default=None)
    p.add_argument("--output", default=os.path.join(ROOT, "docs", "conformance.md"))
    p.add_argument("--only", default=None, help="comma-separated registered names")
    p.add_argument("--kinds", default="optimizer,loss")
    p.add_argument("--checks", default=None, help="comma-separated check ids")
    p.add_argument("--imports", default=None,
                   help="comma-separated modules to import first (they may register classes)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # results dir of a child
    return p.parse_args(argv)


def _split(value):
    return [v for v in value.split(",") if v] if value else None


def _worker(args):
    """Runs in a child whose KERAS_BACKEND is set: all checks, results to args.worker."""
    import importlib

    import keras_lossopt  # noqa: F401
    from tests.conformance import runner

    for module in _split(args.imports) or []:
        importlib.import_module(module)

    def log(r):
        print(f"{r.backend:10s} {r.kind:9s} {r.entry:40s} {r.check:18s} {r.status:5s} "
              f"{r.seconds:6.2f}s {r.reason.splitlines()[0][:100] if r.reason else ''}",
              flush=True)

    results = runner.run_all(kinds=_split(args.kinds), only=_split(args.only),
                             checks=_split(args.checks), log=log)
    runner.dump_results(args.worker, "cli", results)
    return 0


def _run_backends(args):
    """One child process per backend; returns every Result they wrote."""
    from tests.conformance import fresh, runner

    tmp = tempfile.mkdtemp(prefix="conformance-")
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    if args.imports:
        env[fresh.IMPORTS_ENV] = args.imports
    for backend in _split(args.backends):
        child = [sys.executable, "-m", "tests.conformance", "--worker", tmp, "--kinds", args.kinds]
        for flag in ("only", "checks", "imports"):
            if getattr(args, flag):
                child += [f"--{flag}", getattr(args, flag)]
        code = subprocess.call(child, env=dict(env, KERAS_BACKEND=backend), cwd=ROOT)
        if code != 0:
            print(f"the {backend} run exited with {code}", file=sys.stderr)
    return runner.load_results(tmp)


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.worker:
        return _worker(args)
    from tests.conformance import report, runner

    results = runner.load_results(args.from_results) if args.from_results else _run_backends(args)
    if not results:
        print("no results found", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    failures = report.write_markdown(results, args.output)
    print(f"wrote {args.output}: {len(results)} results, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
