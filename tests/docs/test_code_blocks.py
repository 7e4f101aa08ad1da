"""The Python code blocks of README.md and of the guides run as shown.

Each page's blocks run in order in one namespace (like a reader pasting them into
one session), in a fresh folder, all pages in one fresh process (one Keras import).
A block preceded by `<!-- not-run: REASON -->` is skipped; none is today.
"""

import json
import re

import pytest

from tests.conftest import run_fresh_python
from tests.docs.conftest import ROOT

_BLOCK = re.compile(r"(?P<marker><!-- not-run: [^>]+ -->\s*)?^```python[^\n]*\n(?P<code>.*?)^```",
                    re.S | re.M)


def pages_with_code():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = {}
    for page in pages:
        if "hooks" in page.parts:
            continue
        blocks = [m.group("code") for m in _BLOCK.finditer(page.read_text())
                  if not m.group("marker")]
        if blocks:
            found[page.relative_to(ROOT).as_posix()] = blocks
    return found


def test_the_readme_and_the_guides_have_code_to_run():
    pages = pages_with_code()
    assert "README.md" in pages
    assert any(p.startswith("docs/guides/") for p in pages)


@pytest.mark.slow
def test_code_blocks_run(tmp_path):
    pages = pages_with_code()
    (tmp_path / "pages.json").write_text(json.dumps(pages))
    out = run_fresh_python(
        f"""
        import json, os, pathlib, time, traceback
        pages = json.loads(pathlib.Path({str(tmp_path / "pages.json")!r}).read_text())
        failures = {{}}
        for index, (page, blocks) in enumerate(pages.items()):
            folder = pathlib.Path({str(tmp_path)!r}) / f"page{{index}}"
            folder.mkdir()
            os.chdir(folder)
            namespace = {{"__name__": "__main__"}}
            start = time.perf_counter()
            for number, code in enumerate(blocks, 1):
                try:
                    exec(compile(code, f"{{page}} block {{number}}", "exec"), namespace)
                except BaseException:
                    failures[page] = traceback.format_exc(limit=3)
                    break
            print("TIMING", page, round(time.perf_counter() - start, 1), flush=True)
        print("FAILURES", json.dumps(failures))
        """,
        timeout=900,
    )
    failures = json.loads(out.rsplit("FAILURES", 1)[1])
    assert not failures, "\n\n".join(f"{page}:\n{tb}" for page, tb in failures.items())
