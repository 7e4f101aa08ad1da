"""Helpers of the command-line tests: run `main(argv)` in-process, capture output."""

import os
import pathlib
import struct

import pytest

from keras_lossopt.cli.main import main

ROOT = pathlib.Path(__file__).resolve().parents[2]


def launcher_env(**overrides):
    """`os.environ` for a fresh `keras-lossopt` process of this checkout: the
    repository root first on PYTHONPATH (so `keras_lossopt_launcher` and this
    tree's package are imported); an override of None removes the variable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class Ran:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """`cli(*argv)` runs the command in-process and returns code, stdout, stderr."""

    def run(*argv):
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails if the file is not a PNG."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def assert_valid_png(path, size):
    """The PNG decodes, has the expected size and is not blank."""
    import matplotlib.image

    assert png_size(path) == size
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (size[1], size[0])
    assert pixels[..., :3].std() > 0.01  # something was drawn


def assert_one_line_error(ran, *fragments):
    assert ran.code == 2, (ran.code, ran.out, ran.err)
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert "Traceback" not in ran.err + ran.out
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
