"""A whole ``mmcot run`` against the HOSTILE TEACHER STUB (tests/support/hostile_teacher.py), as a user runs it, then ``mmcot view``.

One problem per class of hostile reply, two samples each. The run must exit 0 with the accounting
identity holding; each problem must end where its class says (dead-lettered by the reply gate,
dropped by chain hygiene or the finish check, or kept); every row of every written row set must pass
the row invariant; ``mmcot view``'s report, opened in headless Chromium, must run no script from a
chain and load nothing; and the loopback listener the hostile links point at must see no request.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from schemas.manifest import Manifest
from schemas.output_sets import TRL_SUFFIX
from tests.data_cards.test_report_browser import CHROMIUM, CHROMIUM_FLAGS, _ensure_chromium
from tests.pipelines.test_hostile_corpus import listener  # noqa: F401  (the loopback listener fixture, shared)
from tests.support.hostile_teacher import CASES, SCRIPT, HostileTeacher
from tests.support.paths import REPO
from transforms.row_invariant import violation
from transforms.synth import generate, write_jsonl

pytestmark = pytest.mark.integration  # CLI subprocesses, a Beam job and Chromium
ROW_SETS = ("sft", "rl", "preference")


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=1500)


def _rows(out: Path, name: str) -> list[dict]:
    return [r for shard in sorted((out / name).glob("*.parquet")) for r in pq.read_table(shard).to_pylist()]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, listener):
    """The finished run: (output directory, problem id -> case, the CLI's result, the stub's request counts)."""
    root = tmp_path_factory.mktemp("hostile-teacher")
    problems = list(generate(len(CASES), seed=7))
    assert len({p.caption for p in problems}) == len(problems)  # the stub tells prompts apart by caption
    jsonl = write_jsonl(problems, root / "data")
    by_caption = {p.caption: (case.name, p.answer) for p, case in zip(problems, CASES)}
    with HostileTeacher(by_caption, listener.port) as teacher:
        config = {
            "run": {"name": "hostile-teacher", "output_dir": str(root / "out")},
            "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
            "dedup": {"near_text": {"enabled": False}},
            "length": {"samples": 2, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 64}]},
            "teacher": {"base_url": teacher.base_url, "model": "hostile-stub", "cache_url": str(root / "cache"),
                        "send_seed": True, "seed": 0, "max_in_flight": 8, "max_attempts": 2},
            "verify": {"require_reasoning": False},
        }
        (root / "run.yaml").write_text(yaml.safe_dump(config))
        result = _cli(["run", "--config", "run.yaml", "--runner", "direct"], root)
        counts = dict(teacher.counts)
    out = root / "out"
    ids = {r["id"]: r["caption"] for r in _rows(out, "problems")}
    cases = {pid: by_caption[caption][0] for pid, caption in ids.items()}
    return out, cases, result, counts


def test_the_run_exits_0_and_every_problem_is_accounted_for(hostile_run):
    out, cases, result, counts = hostile_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "Traceback" not in result.stderr, result.stderr[-6000:]
    manifest = Manifest.from_json((out / "manifest.json").read_text())
    assert manifest.counts.read == len(CASES) == len(cases) and manifest.counts.balanced()
    assert set(counts) == {c.name for c in CASES}, "every class of reply was served"


def test_each_class_ends_where_it_must(hostile_run):
    out, cases, _, _ = hostile_run
    ended: dict[str, tuple[str, str]] = {r["id"]: ("kept", "") for r in _rows(out, "sft")}
    for name, outcome in (("dropped", "dropped"), ("dead_letter", "dead")):
        ended.update({r["row_id"]: (outcome, f"{r['stage']}/{r['reason']}") for r in _rows(out, name)})
    wanted = {c.name: c for c in CASES}
    wrong = {pid: (name, ended.get(pid)) for pid, name in cases.items()
             if ended.get(pid, ("", ""))[0] != wanted[name].outcome
             or (wanted[name].reason and ended[pid][1] != wanted[name].reason)}
    assert wrong == {}


def test_hostile_chains_carry_their_reason_in_the_verdict(hostile_run):
    out, cases, _, _ = hostile_run
    reasons = defaultdict(list)
    for g in _rows(out, "generations"):
        if g["sample_index"] == 0:
            reasons[cases[g["problem_id"]]] = g["verdict"]["reasons"]
    wanted = {c.name: c.chain_reason for c in CASES if c.chain_reason}
    assert {name: why for name, why in wanted.items() if why not in reasons[name]} == {}


def test_every_written_row_passes_the_invariant_and_unknown_usage_stays_unknown(hostile_run):
    out, cases, _, _ = hostile_run
    written = 0
    for name in (*ROW_SETS, *(s + TRL_SUFFIX for s in ROW_SETS)):
        for row in _rows(out, name):
            written += 1
            assert violation(row) is None, (name, violation(row))
    assert written > 0
    kept = {cases[r["id"]]: r for r in _rows(out, "sft")}
    assert kept["usage_huge"]["completion_tokens"] is None and kept["usage_bad_types"]["completion_tokens"] is None
    pairs = {cases[r["id"]]: r for r in _rows(out, "preference")}
    assert "rejected_unclean" not in pairs and SCRIPT in pairs["rejected_html"]["rejected"]["content"]
    assert "rejected_unclean" in {cases[r["extra_info"]["id"]] for r in _rows(out, "rl")}
    manifest = Manifest.from_json((out / "manifest.json").read_text())
    counters = manifest.metrics.stages["generate"].counters
    assert counters["usage_out_of_range"] >= 6 and counters["usage_missing"] >= 4
    assert counters["replies_refused"] == sum(c.outcome == "dead" for c in CASES)  # each dead class: its sample 0


def test_the_report_runs_no_chain_script_and_loads_nothing(hostile_run, listener, tmp_path):
    out, cases, _, _ = hostile_run
    viewed = _cli(["view", str(out)], tmp_path)
    assert viewed.returncode == 0, viewed.stderr[-3000:]
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    html_id = next(pid for pid, name in cases.items() if name == "html_js")
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector("#status[data-total]")
        page.fill('#filters input[name="q"]', html_id)
        page.wait_for_function("id => [...document.querySelectorAll('article.problem')].some(a => a.dataset.id === id)",
                               arg=html_id)
        shown = page.locator(f'article.problem[data-id="{html_id}"]').text_content()
        live = page.evaluate("() => ({pwned: window.__mmcot_pwned ?? null, scripts: document.scripts.length, "
                             "frames: document.querySelectorAll('iframe').length, "
                             "images: [...document.images].map(i => i.src).filter(s => !s.startsWith('data:'))})")
        browser.close()
    assert "<script>window.__mmcot_pwned" in shown  # shown as text
    assert live == {"pwned": None, "scripts": 2, "frames": 0, "images": []}
    assert errors == [] and requests == []
    assert listener.accepted == 0
