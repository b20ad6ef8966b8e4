"""``report.html`` opened in headless Chromium: it renders, with no console errors and no network."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1400,2400",
]


def _chromium(profile, *extra: str, page) -> subprocess.CompletedProcess:
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_without_console_errors(no_train_result, tmp_path):
    page = no_train_result.files["report.html"]
    shot = tmp_path / "shot.png"
    done = _chromium(tmp_path / "profile", f"--screenshot={shot}", page=page)
    assert done.returncode == 0, done.stderr[-2000:]
    # every console message of the page (our page has no script, so any message is a problem),
    # and any failed resource load, is logged on stderr with these markers
    problems = [line for line in done.stderr.splitlines() if re.search(r"CONSOLE|net::ERR_|Uncaught", line)]
    assert problems == []
    assert shot.is_file() and shot.stat().st_size > 20_000  # a real picture, not a blank page

    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[1] == 1400
    assert pixels[..., :3].std() > 0.05  # tables, chart and diagrams drawn, not a uniform page


def test_dom_holds_table_chart_and_diagrams(no_train_result, tmp_path):
    done = _chromium(tmp_path / "profile", "--dump-dom", page=no_train_result.files["report.html"])
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert dom.count("<section class=\"model\"") == len(no_train_result.rows)
    assert "data:image/svg+xml;base64," in dom
    assert dom.count("<svg") >= len(no_train_result.rows)
    for row in no_train_result.rows:
        assert f"<td>{row.model}</td>" in dom
