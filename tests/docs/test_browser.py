"""The site as a reader sees it: headless Chromium opens three pages.

Debian's `chromium` and `chromium-driver` drive it through Selenium (no browser
download). The pages are served over HTTP from 127.0.0.1 (the search index is
fetched, which `file://` pages may not do). Screenshots go to
`build/docs-screenshots/` for a person to look at. Without Chromium the test is
skipped with the reason, except in CI (`CI=true`), where `.ci/run` installs it and
a missing browser is a failure.
"""

import contextlib
import functools
import http.server
import os
import shutil
import tempfile
import threading

import pytest

from tests.docs.conftest import ROOT

SCREENSHOTS = ROOT / "build" / "docs-screenshots"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1400",
)
# (screenshot name, page, text the page must show)
PAGES = (
    ("index", "", "Where to go next"),
    ("api_optimizers", "api/optimizers/", "RAdam"),
    ("gallery_doctor_verdicts", "gallery/doctor_verdicts/", "Training doctor"),
)


def _browser_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return chromium, driver


@contextlib.contextmanager
def _serve(folder):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _chromium():
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="needs the docs extra (selenium)")
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser_paths()
    if not (chromium and driver_path):
        reason = ("Debian's chromium and chromium-driver are not installed "
                  "(apt-get install -y chromium chromium-driver)")
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser check: {reason}")
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        browser.set_page_load_timeout(60)
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(browser, script, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda b: b.execute_script(script))


def test_index_api_and_gallery_pages_render_in_chromium(site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with _serve(site) as base, _chromium() as browser:
        for name, page, must_show in PAGES:
            browser.get(base + page)
            _wait(browser, "return document.readyState === 'complete'")
            assert "keras_lossopt" in browser.title, (page, browser.title)
            body = browser.find_element("tag name", "body").text
            assert must_show in body, f"{page or 'index'} does not show {must_show!r}"
            nav = browser.execute_script(
                "return Array.from(document.querySelectorAll('nav.md-nav--primary a'))"
                ".map(a => a.textContent.trim())")
            for section in ("Getting started", "Losses", "Optimizers"):
                assert section in nav, f"{page or 'index'}: navigation lacks {section!r}"
            # Every image has loaded (a broken one has naturalWidth 0).
            images = _wait(browser, """
                const imgs = Array.from(document.images);
                if (!imgs.every(i => i.complete)) return false;
                return {images: imgs.map(i => [i.getAttribute('src'), i.naturalWidth])};""")
            images = images["images"]
            broken = [src for src, width in images if width == 0]
            assert not broken, f"{page or 'index'}: images that did not load: {broken}"
            if page.startswith("gallery/"):
                assert len(images) >= 6, f"{page}: expected the six verdict figures"
            browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

        # The search index is there and the search box finds an optimizer by name.
        browser.get(base)
        status = browser.execute_script(
            "return fetch('search/search_index.json').then(r => r.ok ? r.json() : null)"
            ".then(j => j ? j.docs.length : 0)")
        assert status > 100, f"search index has {status} entries"
        box = browser.find_element("css selector", "input.md-search__input")
        browser.execute_script("document.querySelector('label.md-search__icon, "
                               "label[for=__search]').click()")
        box.send_keys("RAdam")
        titles = _wait(browser, """
            const items = Array.from(document.querySelectorAll('.md-search-result__item'));
            return items.length ? items.map(i => i.textContent) : false;""")
        assert any("RAdam" in t for t in titles), titles[:5]
        browser.save_screenshot(str(SCREENSHOTS / "search_radam.png"))
