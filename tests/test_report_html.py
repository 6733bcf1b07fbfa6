"""report.html, opened in a real headless browser (Debian's chromium): every prediction id shown, filters that work.

A self-contained page (no network): the test loads it from disk with the network off, reads the DOM
after its script ran, and takes a screenshot.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import FIXTURES, SemEvalRun
from helpers import qa4re

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def browse(page: Path, profile: Path, fragment: str = "", screenshot: Path | None = None) -> str:
    """The page's DOM after its script ran (or, with ``screenshot``, a PNG of it)."""
    what = [f"--screenshot={screenshot}", "--window-size=1200,1600"] if screenshot else ["--dump-dom"]
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *what, f"{page.resolve().as_uri()}{fragment}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def shown_ids(dom: str) -> list[str]:
    listed = dom.split('<div id="list">', 1)[1].split("</div><button", 1)[0]
    return re.findall(r'class="ex[^"]*" data-id="([^"]+)"', listed)


@pytest.fixture(scope="module")
def evaluated(semeval_run: Callable[[str], SemEvalRun]) -> Path:
    return semeval_run("qa4re").output


def test_the_page_shows_every_prediction_and_its_filters_work(evaluated: Path, tmp_path: Path) -> None:
    page = evaluated / "report.html"
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<link" not in text  # self-contained: nothing to fetch
    records = [json.loads(line) for line in (evaluated / "predictions.jsonl").read_text().splitlines()]
    dom = browse(page, tmp_path / "profile")
    assert shown_ids(dom) == [r["id"] for r in records] and f"{len(records)} of {len(records)} shown" in dom
    assert 'class="subj"' in dom and 'class="bar"' in dom and re.search(r'id="matrix"><tbody><tr>', dom)  # mentions highlighted, bars, the matrix
    relation = next(r["gold"] for r in records if r["gold"])
    expected = [r["id"] for r in records if relation in (r["gold"], r["prediction"])]
    filtered = browse(page, tmp_path / "profile", f"#relation={relation}")
    assert shown_ids(filtered) == expected and f"{len(expected)} of {len(records)} shown" in filtered
    wrong = [r["id"] for r in records if r["prediction"] != r["gold"]]
    assert shown_ids(browse(page, tmp_path / "profile", "#errors")) == wrong
    shot = tmp_path / "report.png"
    browse(page, tmp_path / "profile", screenshot=shot)
    assert shot.stat().st_size > 20_000


def test_extract_writes_a_report_of_its_triples(tmp_path: Path) -> None:
    output = tmp_path / "triples.jsonl"
    qa4re("extract", "--schema", "tacred", "--input", FIXTURES / "news_docs.jsonl", "--output", output, "--cache", tmp_path / "c.sqlite")
    page = tmp_path / "triples.report.html"
    triples = [json.loads(line) for line in output.read_text().splitlines()]
    dom = browse(page, tmp_path / "profile")
    assert len(shown_ids(dom)) == len(triples) and all(f"{t.get('doc_id', t.get('id'))}: {t['subject']['text']}" in dom for t in triples if "subject" in t)
