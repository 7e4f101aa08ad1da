"""The built documentation site, shared by the docs tests.

`make test` builds the site once in strict mode (`make docs`) and points
`KERAS_LOSSOPT_DOCS_SITE` at it; run alone, these tests build it themselves into a
temporary folder (strict too). Without the `docs` extra they are skipped.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOOKS = ROOT / "docs" / "hooks"


def docs_hooks():
    """The MkDocs hook module (page names and anchors are defined there once)."""
    pytest.importorskip("mkdocs", reason="needs the docs extra: pip install -e '.[docs]'")
    if str(HOOKS) not in sys.path:
        sys.path.insert(0, str(HOOKS))
    import docs_site

    return docs_site


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="needs the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings", reason="needs the docs extra: pip install -e '.[docs]'")
    prebuilt = os.environ.get("KERAS_LOSSOPT_DOCS_SITE")
    if prebuilt:
        path = pathlib.Path(prebuilt)
        if not path.is_absolute():
            path = ROOT / path
        assert (path / "index.html").exists(), f"KERAS_LOSSOPT_DOCS_SITE={prebuilt} has no site"
        return path
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out
