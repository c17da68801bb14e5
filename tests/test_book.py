"""The book: chapters execute on real data, the build is warning-free, a browser renders it.

Re-execution against the committed outputs (nbval) runs from the Makefile
(`make nbval`, part of `make test`); these tests cover the rest of the book's contract.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pepita_lib.report import CHAPTER_NEEDS, load_runs

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
TOC = (ROOT / "_toc.yml").read_text()


def _outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for v in out.get("data", {}).values():
                parts.append(v if isinstance(v, str) else json.dumps(v))
    return "\n".join(parts)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_structure(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    src = tagged[0].source
    for name in ('profile = "paper"', "results_dir =", "run_missing = False"):
        assert name in src
    assert f"chapters/{path.stem}" in TOC, "every chapter is in _toc.yml"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "committed with outputs (run make chapters)"
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("chapter", sorted(CHAPTER_NEEDS))
def test_every_paper_run_is_stored_or_reported_missing(chapter):
    nb = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    text = _outputs_text(nb)
    for experiment, filters in CHAPTER_NEEDS[chapter].values():
        _, _, missing = load_runs(experiment, "paper", ROOT / "results", filters)
        if missing:
            assert "Not run yet" in text and f"pepita run {experiment}" in text, (
                f"{chapter}: {len(missing)} runs of {experiment} missing and not reported"
            )
        else:
            assert f"All {experiment} runs this chapter uses" in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_on_smoke_profile(path, tmp_path):
    """papermill, profile smoke, training what is missing into an empty results dir."""
    out = tmp_path / path.name
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(path),
            str(out),
            "-k",
            "python3",
            "-p",
            "profile",
            "smoke",
            "-p",
            "run_missing",
            "True",
            "-p",
            "results_dir",
            str(tmp_path / "results"),
            "-p",
            "device",
            "cpu",
            "--cwd",
            str(ROOT / "chapters"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    assert not [
        o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    shutil.copytree(
        ROOT,
        out / "src",
        ignore=shutil.ignore_patterns(
            ".venv", "_build", ".git", "results", "tests", "*.egg-info", "__pycache__"
        ),
    )
    res = subprocess.run(
        [
            str(Path(sys.executable).with_name("jupyter-book")),
            "build",
            "--all",
            "-W",
            "--keep-going",
            "-n",
            str(out / "src"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "warning" not in res.stderr.lower(), res.stderr[-4000:]
    return out / "src" / "_build" / "html"


def test_book_builds_without_warnings(built_book):
    for nb in CHAPTERS:
        assert (built_book / "chapters" / f"{nb.stem}.html").is_file()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize(
    "page,title,figure",
    [
        ("index.html", "Forward learning with top-down feedback", False),
        ("chapters/pepita.html", "PEPITA: two forward passes", True),
    ],
)
def test_browser_renders_pages(built_book, tmp_path, page, title, figure):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--window-size=1280,1600",
    ]
    url = (built_book / page).as_uri()
    png = tmp_path / "page.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={png}", url], capture_output=True, timeout=120)
    assert png.is_file() and png.stat().st_size > 20_000, "screenshot missing or blank"
    from PIL import Image

    img = Image.open(png).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100, "screenshot is a flat colour"
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    assert title in dom
    if figure:
        assert "<img" in dom and ".png" in dom, "the chapter shows a figure"
