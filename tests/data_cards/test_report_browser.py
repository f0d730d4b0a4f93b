"""The run report opened in headless Chromium (Debian's ``chromium`` driven by playwright), on a real run.

The run is a small sample pipeline on the scripted teacher backend (12 synthetic problems, 2 chains
each; the script answers half the problems right on their first sample and every other chain wrong,
so kept and dropped problems both exist whatever an engine would have drawn; a planted duplicate and
a corrupt image give a drop and a dead-letter reason). The report is what is under test here; the
real engine's runs are tested in the pipeline integration tests. ``mmcot run`` writes
``report.html`` at its end; the tests open that file, then the same report served by ``mmcot view
--serve``, and check what a person sees against the manifest and the Parquet shards.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from data_cards.funnel import funnel
from data_cards.report.serve import ReportServer
from pipelines.config import parse_config
from pipelines.run import run_pipeline
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def _ensure_chromium() -> None:
    """Install Debian's chromium when missing (CI starts on a fresh machine); skip when that cannot be done."""
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{CHROMIUM} is missing and apt-get cannot install it here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)


def _chain(answer: str) -> Reply:
    return Reply(f"<think>I read the figure, count what it shows and compare.</think> So the answer is \\boxed{{{answer}}}.")


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """A finished run of 12 problems plus a duplicate and a corrupt image, k=2, on the scripted teacher."""
    root = tmp_path_factory.mktemp("report-run")
    problems = list(generate(12, seed=11, difficulty=(0.0, 0.6)))
    assert len({p.caption for p in problems}) == len(problems)  # each prompt is told apart by its caption
    rules = [Rule(_chain(p.answer), match=p.caption, sample=0) for p in problems[::2]]
    teacher = scripted_settings(Script(rules, default=_chain("not what the picture shows")), name="report-teacher")
    jsonl = write_jsonl(problems, root / "data")
    (root / "data" / "images" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    first = json.loads(jsonl.read_text().splitlines()[0])
    with jsonl.open("a") as fh:
        fh.write(json.dumps({**first, "id": "zz-duplicate"}) + "\n")
        fh.write(json.dumps({**first, "id": "bad-corrupt", "images": ["images/corrupt.png"]}) + "\n")
    config = parse_config({
        "run": {"name": "report-sample", "output_dir": str(root / "out")},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "length": {"samples": 2, "bands": [
            {"name": "easy", "max_difficulty": 0.3, "max_tokens": 96, "target_tokens": 40, "prompt_style": "concise"},
            {"name": "hard", "max_difficulty": 1.0, "max_tokens": 128, "target_tokens": 64, "prompt_style": "standard"}]},
        "teacher": {"backend": "scripted", "model": teacher.model, "cache_url": str(root / "cache")},
        "verify": {"require_reasoning": False},
    })
    manifest = run_pipeline(config, ["--runner", "direct"], command="pytest report sample")
    return Path(config.run.output_dir), manifest


@pytest.fixture(scope="module")  # not longer: Playwright's sync API keeps an event loop running in this thread
def browser():
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class Opened:
    """A report page and every console message or page error it raised."""

    def __init__(self, browser, url: str):
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.goto(url)
        self.page.wait_for_selector("#status[data-total]")

    def listed_ids(self) -> list[str]:
        """Ids of every problem the current filters list, through all pages."""
        ids = self.page.eval_on_selector_all("article.problem", "els => els.map(e => e.dataset.id)")
        while self.page.is_enabled(".pager .next >> nth=0"):
            before = self.page.text_content("#status")
            self.page.click(".pager .next >> nth=0")
            self.page.wait_for_function("b => document.querySelector('#status').textContent !== b", arg=before)
            ids += self.page.eval_on_selector_all("article.problem", "els => els.map(e => e.dataset.id)")
        return ids


@pytest.fixture(scope="module")
def report(sample_run, browser):
    out, _ = sample_run
    opened = Opened(browser, (out / "report.html").as_uri())
    yield opened
    opened.page.close()


def _reject_ids(out: Path) -> dict[tuple[str, str], set[str]]:
    """(outcome, stage/reason) -> row ids, from the dropped and dead-letter shards."""
    found = defaultdict(set)
    for name, outcome in (("dropped", "dropped"), ("dead_letter", "dead-lettered")):
        for row in pq.read_table(out / name).to_pylist():
            found[outcome, f"{row['stage']}/{row['reason']}"].add(row["row_id"])
    return found


def _band_ids(out: Path) -> dict[str, set[str]]:
    gens = pq.read_table(out / "generations", columns=["problem_id", "sampling"])
    bands = defaultdict(set)
    for pid, band in zip(gens["problem_id"].to_pylist(), pc.struct_field(gens["sampling"], "band").to_pylist()):
        bands[band].add(pid)
    return bands


def test_the_run_is_what_the_report_tests_need(sample_run):
    out, manifest = sample_run
    assert manifest.counts.balanced() and (out / "report.html").exists()
    assert manifest.counts.dropped.get("dedup/duplicate") == 1 and sum(manifest.counts.dead_lettered.values()) >= 1
    assert manifest.counts.kept >= 1, "the teacher kept no problem: no image would be shown"


def test_funnel_numbers_equal_the_manifest(report, sample_run):
    _, manifest = sample_run
    page = report.page
    for step in funnel(manifest.counts):
        assert page.text_content(f'#funnel tr[data-step="{step.name}"] td.count').strip() == str(step.remaining)
        shown = page.eval_on_selector_all(f'#funnel tr[data-step="{step.name}"] a.reason[data-reason]',
                                          "els => els.map(e => [e.dataset.outcome + ' ' + e.dataset.reason, "
                                          "e.querySelector('.n').textContent])")
        assert {k: v for k, v in shown} == {k: f"({n})" for k, n in step.removed.items()}
    c = manifest.counts
    assert f"read ({c.read}) = kept ({c.kept}) + dropped ({sum(c.dropped.values())}) + dead-lettered " \
           f"({sum(c.dead_lettered.values())}) holds" in page.text_content("#accounting")
    assert page.text_content("#sampled") == f"Every problem of the run ({c.read})."  # under output.sample_problems


def test_clicking_a_reason_lists_exactly_its_rows(report, sample_run):
    out, manifest = sample_run
    expected = _reject_ids(out)
    assert set(expected) == {tuple(k.split(" ", 1)) for s in funnel(manifest.counts) for k in s.removed}
    for (outcome, reason), ids in expected.items():
        report.page.click(f'#funnel a.reason[data-outcome="{outcome}"][data-reason="{reason}"]')
        report.page.wait_for_function("r => [...document.querySelectorAll('article.problem')].every(a => a.dataset.reason === r)",
                                      arg=reason)
        assert sorted(report.listed_ids()) == sorted(ids), (outcome, reason)


def test_a_filtered_view_is_a_link_that_opens_the_same_rows(report, sample_run, browser):
    out, _ = sample_run
    (outcome, reason), ids = sorted(_reject_ids(out).items())[0]
    report.page.click(f'#funnel a.reason[data-outcome="{outcome}"][data-reason="{reason}"]')
    report.page.wait_for_function("() => location.hash.includes('reason=')")
    opened = Opened(browser, report.page.url)
    try:
        assert sorted(opened.listed_ids()) == sorted(ids) and opened.errors == []
        assert opened.page.input_value('#filters select[name="reason"]') == reason
    finally:
        opened.page.close()


def test_filtering_by_band_shows_only_that_band(report, sample_run):
    out, _ = sample_run
    for band, ids in _band_ids(out).items():
        report.page.click("#clear")
        report.page.select_option('#filters select[name="band"]', band)
        report.page.wait_for_function("n => document.querySelector('#status').dataset.total == n", arg=len(ids))
        listed = report.listed_ids()
        assert sorted(listed) == sorted(ids)
        bands = report.page.eval_on_selector_all("article.problem", "els => els.map(e => e.dataset.band)")
        assert set(bands) == {band}


def test_search_finds_problems_by_question_text(report, sample_run):
    out, _ = sample_run
    row = pq.read_table(out / "sft").to_pylist()[0]
    words = row["messages"][0]["content"].replace("<image>", "").split("\n")[0][:30]
    report.page.click("#clear")
    report.page.fill('#filters input[name="q"]', words)
    report.page.wait_for_function("w => { const a = [...document.querySelectorAll('article.problem')]; return a.length && "
                                  "a.every(e => (e.querySelector('.question')?.textContent || '').includes(w)); }", arg=words)
    assert row["id"] in report.listed_ids()


def test_a_problem_shows_its_decoded_image_its_chains_and_the_kept_mark(report, sample_run):
    out, manifest = sample_run
    page = report.page
    page.click("#clear")
    page.select_option('#filters select[name="outcome"]', "kept")
    page.wait_for_function("n => document.querySelector('#status').dataset.total == n", arg=manifest.counts.kept)
    first = page.locator("article.problem").first
    image = first.locator(".images img").first
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    assert first.locator("tr.kept-chain .badge.mark", has_text="kept").count() == 1  # one chain marked kept
    assert first.locator("table.chains tr[data-verdict]").count() >= 2  # k=2 samples with their verdicts
    pid = first.get_attribute("data-id")
    sft = {r["id"]: r for r in pq.read_table(out / "sft").to_pylist()}
    assert first.locator("tr.kept-chain td.num").first.text_content() == str(sft[pid]["completion_tokens"])


def test_no_console_errors_and_a_screenshot_for_a_person(report, tmp_path_factory):
    report.page.click("#clear")
    report.page.wait_for_selector("article.problem")
    shot = tmp_path_factory.mktemp("report-screenshot") / "report.png"
    report.page.screenshot(path=str(shot), full_page=True)
    print(f"report screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert report.errors == []


def test_the_served_report_pages_through_the_shards(sample_run, browser):
    out, manifest = sample_run
    with ReportServer(str(out)) as server:
        served = Opened(browser, server.url)
        try:
            assert served.page.text_content('#funnel tr[data-step="kept"] td.count').strip() == str(manifest.counts.kept)
            for band, ids in _band_ids(out).items():
                served.page.select_option('#filters select[name="band"]', band)
                served.page.wait_for_function("n => document.querySelector('#status').dataset.total == n", arg=len(ids))
                assert sorted(served.listed_ids()) == sorted(ids)
            served.page.click("#clear")
            served.page.select_option('#filters select[name="outcome"]', "kept")
            served.page.wait_for_function("n => document.querySelector('#status').dataset.total == n", arg=manifest.counts.kept)
            assert served.page.locator("article.problem .images img").first.evaluate("i => i.complete && i.naturalWidth") > 0
            assert served.errors == []
        finally:
            served.page.close()
