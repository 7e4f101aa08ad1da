"""CONTRIBUTING.md stays true: every file or folder it names exists in the repository.

Paths are read from inline code spans (`keras_lossopt/registry.py`), the file-layout
tree and the commands in code blocks; `<placeholders>` and globs must match at least
one path.
"""

import glob
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PATH_LIKE = re.compile(r"^[\w.<>*/-]+\.(py|md|toml|cfg|json|txt|yml|yaml)$|^[\w.<>*-]+/[\w.<>*/-]*$")


def _inline_paths(text):
    for span in re.findall(r"`([^`\n]+)`", text):
        token = span.split()[0] if span.split() else ""
        if "/" in token and PATH_LIKE.match(token) and not token.startswith(("http", "/")):
            yield token


def _code_blocks(text):
    block, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                yield block
            block, inside = [], not inside
        elif inside:
            block.append(line)


def _layout_paths(text):
    """Paths of the file-layout tree: the code block whose first line is `keras_lossopt/`."""
    for lines in _code_blocks(text):
        if not lines or not lines[0].startswith("keras_lossopt/"):
            continue
        parent = ""
        for line in lines:
            if not line.strip():
                continue
            name = line.split()[0]
            if not line.startswith(" "):
                parent = name if name.endswith("/") else ""
                yield name
            else:
                yield parent + name


def _command_paths(text):
    """Files named in the other code blocks (commands such as `pytest tests/x.py`)."""
    for lines in _code_blocks(text):
        if lines and lines[0].startswith("keras_lossopt/"):
            continue
        for token in " ".join(lines).split():
            token = token.strip("'\"")
            if token.startswith(".venv/"):  # made by `make`, not in a fresh clone
                continue
            if "/" in token and token.endswith(".py") and PATH_LIKE.match(token):
                yield token


def _exists(path):
    pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
    return bool(glob.glob(str(ROOT / pattern)))


def test_every_path_named_in_contributing_exists():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    named = sorted(set(_inline_paths(text)) | set(_layout_paths(text)) | set(_command_paths(text)))
    assert len(named) >= 10, named  # the parser still finds the paths
    missing = [p for p in named if not _exists(p)]
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"
