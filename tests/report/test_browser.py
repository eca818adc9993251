"""A run's report as a person sees it: rendered by headless Chromium, every figure decoded.

The page's own script writes ``data-figures`` (figures on the page) and ``data-figures-loaded``
(figures the browser decoded) into ``<body>`` once it has loaded; the dumped DOM is read back,
and a screenshot is checked for being more than a blank page. Skipped, with the reason, where no
Chromium or Chrome is installed (CI installs Debian's chromium: .ci/run).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def chromium():
    """Run the headless browser with arguments (skips, before any run is trained, where none
    is installed)."""
    found = [shutil.which(name) for name in BROWSERS]
    path = next((p for p in found if p), None)
    if path is None:
        pytest.skip(f"no headless browser on PATH (looked for {', '.join(BROWSERS)})")

    def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run(
            [path, *FLAGS, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    return run


@pytest.fixture(scope="module")
def page(chromium, report_files):
    return report_files["multiclass"]  # a neural run: every kind of figure but survival's


@pytest.mark.slow
def test_browser_decodes_every_figure(chromium, page):
    done = chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, done.stdout[:500]
    figures = re.search(r'data-figures="(\d+)"', body.group(0))
    loaded = re.search(r'data-figures-loaded="(\d+)"', body.group(0))
    assert figures and loaded, f"the page's script did not run: {body.group(0)}"
    # ROC and precision-recall, confusion matrix, calibration, learning curves
    assert int(figures.group(1)) == int(loaded.group(1)) == 4


@pytest.mark.slow
def test_screenshot_is_not_blank(chromium, page, tmp_path):
    import matplotlib.image

    shot = tmp_path / "page.png"
    # tall enough for the tables and the first figures
    done = chromium(f"--screenshot={shot}", "--window-size=1200,4000", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)[..., :3]  # (H, W, 3) in [0, 1]
    assert pixels.shape[:2] == (4000, 1200)
    assert np.ptp(pixels) > 0.5  # not one colour
    non_white = np.any(pixels < 0.95, axis=-1).mean()  # text, rules, figures (~8 %)
    assert non_white > 0.03, f"only {non_white:.1%} of the screenshot is not white"
    coloured = (np.ptp(pixels, axis=-1) > 0.25).mean()  # the curves and heatmaps (~2 %)
    assert coloured > 0.005, f"only {coloured:.2%} of the screenshot is in colour: no figures?"
