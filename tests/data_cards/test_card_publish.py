"""The per-band report, the dataset card rendered from a finished run, and publishing it (up to HTTP, on loopback)."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
import shutil
import statistics
from pathlib import Path

import datasets
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from data_cards.card import load_manifest, render_card
from data_cards.metadata import output_sets, size_category
from data_cards.publish import PublishRefused, plan_publish
from pipelines.cli import main
from pipelines.config import parse_config
from pipelines.run import write_run_report
from pipelines.vllm_server import find_free_port
from schemas.manifest import Manifest
from schemas.output_sets import READ_COUNTS_SET
from schemas.outputs import Message, PreferenceRow, RejectRow, RewardModel, RLExtraInfo, RLRow, SFTRow
from schemas.problem import ImageRef
from schemas.source import ReadCount
from tests.support.factories import PLAN, generation
from tests.support.helpers import png_bytes, record_shard_again, write_run_records
from tests.support.hub_stub import HubStub
from transforms.figures.shards import shard_facts

# problem -> (band, difficulty, [(completion tokens, correct), ...]); s/5 has no correct chain
CHAINS = {
    "s/0": ("easy", 0.1, [(12, True), (30, False), (18, True)]),
    "s/1": ("easy", 0.25, [(40, False), (22, True), (160, False)]),
    "s/2": ("medium", 0.5, [(80, True), (120, True), (256, False)]),
    "s/3": ("medium", 0.6, [(90, False), (70, True), (200, True)]),
    "s/4": ("hard", 0.9, [(300, True), (384, False), (250, False)]),
    "s/5": ("hard", 0.8, [(384, False), (384, False), (100, False)]),
}
REPAIRS = {"s/5": (150, False)}  # a rewrite of s/5's wrong chain, verified wrong again
LONG_QUESTION = "How many dots are there? " * 30


def _kept(pid: str) -> SFTRow:
    _, difficulty, chains = CHAINS[pid]
    tokens = min(t for t, ok in chains if ok)
    return SFTRow(id=pid, source="s", images=[ImageRef(png_bytes(), "a.png")],
                  messages=[Message("user", "<image>" + LONG_QUESTION), Message("assistant", f"<think>r</think> {tokens}")],
                  answer="3", answer_type="numeric", difficulty=difficulty,
                  pass_rate=sum(ok for _, ok in chains) / len(chains), teacher="t", completion_tokens=tokens,
                  selection="shortest_correct of 3")


def _rl(pid: str) -> RLRow:
    return RLRow(data_source="s", prompt=[Message("user", "<image>q")], images=[ImageRef(png_bytes(color=(0, 90, 200)), "b.png")],
                 ability="counting", reward_model=RewardModel("rule", "3"),
                 extra_info=RLExtraInfo(pid, "train", "numeric", [], 0.5, CHAINS[pid][1], 3))


def fake_records() -> tuple[dict[str, list], list]:
    """The records a run leaves before its manifest: read counts, chains, kept rows, RL rows, rejects; and dead letters."""
    chains = [(pid, i, chain, "teacher") for pid, (_, _, cs) in CHAINS.items() for i, chain in enumerate(cs)]
    chains += [(pid, 9, chain, "repair") for pid, chain in REPAIRS.items()]
    gens = [dataclasses.replace(generation(i, ok, tokens, pid=pid), difficulty=CHAINS[pid][1], provenance=provenance,
                                sampling=dataclasses.replace(PLAN, band=CHAINS[pid][0]))
            for pid, i, (tokens, ok), provenance in chains]
    sets = {"generations": gens, "sft": [_kept(p) for p in ("s/0", "s/1", "s/2", "s/3", "s/4")],
            "rl": [_rl(p) for p in ("s/0", "s/1", "s/3")],
            "dropped": [RejectRow("s/5", "s", "select", "no_correct_chain"),
                        RejectRow("s/6", "s", "dedup", "duplicate", survivor_id="s/0")],
            READ_COUNTS_SET.name: [ReadCount("a.jsonl", 8, "s")]}
    return sets, [RejectRow("s/7", "s", "normalize", "missing_answer")]


def _config(out: Path, **assess):
    return parse_config({"run": {"name": "fake", "output_dir": str(out)},
                         "source": {"kind": "jsonl", "path": "x.jsonl", "name": "s"},
                         "assess": assess,
                         "output": {"license": "cc-by-nc-4.0", "tags": ["reasoning", "test"], "shards": {"sft": 2},
                                    "trainers": ["verl", "llamafactory"]}})


def write_fake_outputs(out: Path) -> None:
    """The shards and ``_meta/`` figures of :func:`fake_records`, written as a run writes them."""
    sets, dead = fake_records()
    write_run_records(_config(out), sets, dead)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished run: outputs, then the manifest and card exactly as ``mmcot run`` writes them."""
    out = tmp_path_factory.mktemp("run")
    write_fake_outputs(out)
    write_run_report(_config(out), "mmcot run --config c.yaml", 2.0, "r1")
    return out


@pytest.fixture
def run_copy(run_dir, tmp_path) -> Path:
    """A copy of the finished run a test may change."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def _quantiles(values):
    """p10, p50, p90 as Beam's ApproximateQuantiles gives them below its buffer size: exact nearest-rank values
    (the smallest value with at least q * n values at or below it), not interpolated."""
    ordered = sorted(values)
    return [float(ordered[math.ceil(q * len(ordered)) - 1]) for q in (0.1, 0.5, 0.9)]


def test_band_stats_are_computed_from_the_chains_and_kept_rows(run_dir):
    manifest = load_manifest(str(run_dir))
    assert [b.name for b in manifest.bands] == ["easy", "medium", "hard"]  # by mean difficulty
    kept = {row["id"]: row["completion_tokens"] for row in pq.read_table(run_dir / "sft").to_pylist()}
    for band in manifest.bands:
        problems = {pid: chains for pid, (b, _, chains) in CHAINS.items() if b == band.name}
        tokens = [t for chains in problems.values() for t, _ in chains]
        kept_tokens = [kept[pid] for pid in problems if pid in kept]
        assert (band.problems, band.chains, band.kept) == (len(problems), len(tokens), len(kept_tokens))
        assert band.correct_chains == sum(ok for chains in problems.values() for _, ok in chains)
        assert band.repaired_chains == sum(pid in REPAIRS for pid in problems)
        assert band.pass_rate == pytest.approx(statistics.mean(sum(ok for _, ok in c) / len(c) for c in problems.values()), abs=1e-4)
        assert [band.tokens_all.p10, band.tokens_all.p50, band.tokens_all.p90] == _quantiles(tokens)
        if len(kept_tokens) > 1:
            assert [band.tokens_kept.p10, band.tokens_kept.p50, band.tokens_kept.p90] == _quantiles(kept_tokens)
    for plot in manifest.plots:
        assert (run_dir / plot).read_bytes().startswith(b"\x89PNG")
    assert manifest.plots


def test_a_set_whose_schema_datasets_cannot_load_is_listed_without_being_offered(run_copy):
    path = run_copy / "generations/train-00000-of-00001.parquet"
    table = pq.read_table(path)
    verdict = table.column("verdict").combine_chunks()
    checks = verdict.field("checks")
    old_checks = pa.array([None if row is None else [(k, v) for k, v in row.items() if v is not None] for row in checks.to_pylist()],
                          type=pa.map_(pa.string(), pa.bool_()))  # the Arrow map earlier runs wrote
    old_verdict = pa.StructArray.from_arrays([old_checks if f.name == "checks" else verdict.field(f.name) for f in verdict.type],
                                             names=[f.name for f in verdict.type])
    pq.write_table(table.set_column(table.schema.get_field_index("verdict"), "verdict", old_verdict), path)
    assert len(old_checks) == table.num_rows

    facts = shard_facts(("generations", str(path)), str(run_copy), ())  # what the worker reads off such a shard
    assert facts.features is None and "map" in facts.unloadable.lower() and facts.info.rows == table.num_rows
    record_shard_again(run_copy, "generations", path)

    manifest = load_manifest(str(run_copy))
    sets = output_sets(str(run_copy), manifest)
    by_name = {s.name: s for s in sets}
    assert by_name["generations"].unloadable and by_name["sft"].unloadable is None
    card = render_card(manifest, sets, [])
    assert "`generations/` is not offered as a config" in card
    assert "generations" not in [c["config_name"] for c in DatasetCard(card).data.to_dict()["configs"]]


def test_old_manifests_without_bands_still_load(run_dir):
    row = json.loads((run_dir / "manifest.json").read_text())
    del row["bands"], row["plots"]
    old = Manifest.from_json(json.dumps(row))
    assert old.bands == [] and old.plots == [] and old.counts.balanced()


def test_card_parses_and_every_config_loads_with_the_manifest_row_counts(run_dir):
    manifest = load_manifest(str(run_dir))
    card = DatasetCard.load(run_dir / "README.md")
    data = card.data.to_dict()
    offered = [c["config_name"] for c in data["configs"]]
    # every non-empty set, generations included (its verdict checks are a struct, which datasets can represent)
    assert offered == [name for name in ("sft", "rl", "dead_letter", "dropped", "generations") if manifest.rows[name]]
    assert "is not offered as a config" not in card.text
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    for name in offered:
        ds = datasets.load_dataset(str(run_dir), name, split="train")
        assert ds.num_rows == manifest.rows[name] == infos[name]["splits"][0]["num_examples"]
    assert data["license"] == manifest.config["output"]["license"] and data["tags"] == manifest.config["output"]["tags"]
    assert data["size_categories"] == [size_category(max(manifest.rows[n] for n in offered))]
    sft = datasets.load_dataset(str(run_dir), "sft", split="train")
    assert sft[0]["images"][0].size == (64, 48)  # decoded as PIL


def test_card_body_carries_the_manifest_numbers(run_dir):
    manifest = load_manifest(str(run_dir))
    text = DatasetCard.load(run_dir / "README.md").text
    c = manifest.counts
    for outcome, reasons in (("dropped", c.dropped), ("dead-lettered", c.dead_lettered)):
        for key, n in reasons.items():
            assert f"{outcome} {key}: {n}" in text
    assert f"| read | {c.read} |" in text and f"| kept | {c.kept} |" in text and "holds" in text
    for band in manifest.bands:
        assert f"| {band.name} | {band.difficulty_mean:.3f} | {band.problems} | {band.chains} | {band.correct_chains} | " \
               f"{band.truncated_chains} | {band.repaired_chains} | {band.pass_rate:.3f} | {band.kept} |" in text
    for plot in manifest.plots:
        assert f"]({plot})" in text
    for name in ("sft", "rl"):
        assert f"### `{name}`" in text and f"](examples/{name}-0.png)" in text
        assert (run_dir / f"examples/{name}-0.png").read_bytes().startswith(b"\x89PNG")
    assert LONG_QUESTION not in text and "more characters]" in text
    assert manifest.config_hash in text and manifest.command in text and "2504.05599" in text
    assert "Judge" not in text and "Repair:" not in text  # no judge or repair in this run's config


def test_card_command_reproduces_the_run_card(run_copy, capsys):
    written = (run_copy / "README.md").read_text()
    (run_copy / "README.md").unlink()
    shutil.rmtree(run_copy / "examples")
    assert main(["card", str(run_copy)]) == 0
    assert (run_copy / "README.md").read_text() == written
    assert main(["card", str(run_copy), "--repo-id", "me/fake"]) == 0
    assert 'load_dataset("me/fake", "rl", split="train")' in (run_copy / "README.md").read_text()


def test_a_new_output_set_becomes_a_config_without_card_changes(tmp_path):
    sets, dead = fake_records()
    sets["preference"] = [PreferenceRow("s/0", [Message("user", "<image>q")], [ImageRef(png_bytes(), "a.png")],
                                        Message("assistant", "a"), Message("assistant", "b"), "wrong", 3, 9, 0.1, 0.5)]
    write_run_records(_config(tmp_path), sets, dead)
    write_run_report(_config(tmp_path), "mmcot run --config c.yaml", 2.0, "r2")
    card = DatasetCard.load(tmp_path / "README.md")
    assert "preference" in [c["config_name"] for c in card.data.configs]
    assert datasets.load_dataset(str(tmp_path), "preference", split="train")[0]["chosen"]["content"] == "a"
    assert "](examples/preference-0.png)" in card.text


def test_judge_and_repair_lines_appear_with_their_config_sections(run_dir):
    manifest = load_manifest(str(run_dir))
    manifest.config["judge"] = {"endpoint": {"model": "judge-7b"}, "max_tokens": 256, "temperature": 0.0}
    manifest.config["assess"]["min_quality"] = 3
    manifest.config["repair"] = {"enabled": True, "endpoint": None, "max_tokens": 512}
    text = render_card(manifest, output_sets(str(run_dir), manifest), [])
    assert "- Judge: `judge-7b` scores S_v, S_t, S_I" in text and "below quality 3 are dropped" in text
    assert f"- Repair: the teacher (`{manifest.config['teacher']['model']}`) rewrites" in text


def _publish_cli(out: Path, *extra: str) -> int:
    return main(["publish", str(out), "--repo-id", "me/fake", *extra])


def test_publish_dry_run_lists_every_file_and_never_the_token(run_dir, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_do_not_print_me")
    assert _publish_cli(run_dir, "--dry-run", "--revision", "v1") == 0
    out = capsys.readouterr()
    manifest = load_manifest(str(run_dir))
    expected = ["README.md", "manifest.json", "dataset_info.json", *(s.path for s in manifest.shards), *manifest.plots,
                "examples/rl-0.png", "examples/sft-0.png"]
    listed = [line.split()[0] for line in out.out.splitlines() if line.startswith("  ")]
    assert listed == expected and "/datasets/me/fake/tree/v1" in out.out and "public" in out.out
    assert "hf_do_not_print_me" not in out.out + out.err


def test_publish_verify_hashes_refuses_a_shard_changed_in_place(run_copy, capsys):
    shard = run_copy / "sft/train-00000-of-00002.parquet"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert _publish_cli(run_copy, "--dry-run") == 0  # by default the workers' hashes are trusted: same size passes
    capsys.readouterr()
    assert _publish_cli(run_copy, "--dry-run", "--verify-hashes") == 1
    err = capsys.readouterr().err
    assert "sft/train-00000-of-00002.parquet: checksum does not match the manifest" in err
    assert "rl/" not in err


def test_publish_refuses_shards_that_differ_from_what_the_workers_recorded(run_copy, capsys):
    with (run_copy / "rl/train-00000-of-00001.parquet").open("ab") as fh:
        fh.write(b"appended")  # another size: found without reading the shard
    (run_copy / "dropped/train-00000-of-00001.parquet").unlink()
    row = json.loads((run_copy / "manifest.json").read_text())
    edited = next(s for s in row["shards"] if s["config"] == "generations")
    edited["sha256"] = "0" * 64  # a manifest that disagrees with the workers' record
    (run_copy / "manifest.json").write_text(json.dumps(row))
    assert _publish_cli(run_copy, "--dry-run") == 1
    err = capsys.readouterr().err
    assert "rl/train-00000-of-00001.parquet: checksum does not match the manifest" in err
    assert "dropped/train-00000-of-00001.parquet: missing" in err
    assert "generations/train-00000-of-00001.parquet: the manifest's rows, size or sha256 differ" in err
    assert "sft/" not in err


def test_publish_refuses_a_manifest_whose_counts_do_not_add_up(run_copy, capsys):
    row = json.loads((run_copy / "manifest.json").read_text())
    row["counts"]["read"] += 1
    (run_copy / "manifest.json").write_text(json.dumps(row))
    assert _publish_cli(run_copy, "--dry-run") == 1
    assert "accounting identity fails" in capsys.readouterr().err


def test_publish_without_a_token_uploads_nothing(run_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    assert _publish_cli(run_dir) == 2
    assert "no Hugging Face token" in capsys.readouterr().err


def test_publish_sends_one_commit_with_every_file_to_the_hub_api(run_copy, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # the stub speaks LFS, not Xet
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    with HubStub() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)
        assert _publish_cli(run_copy, "--private", "--revision", "dev") == 0
    out = capsys.readouterr()
    assert "hf_test_token" not in out.out + out.err
    manifest = load_manifest(str(run_copy))
    plan = plan_publish(run_copy, manifest, "me/fake", revision="dev", private=True)
    posts = hub.paths("POST")
    assert posts[:3] == ["/api/repos/create", "/api/datasets/me/fake/branch/dev", "/api/validate-yaml"]
    assert posts[-1] == "/api/datasets/me/fake/commit/dev" and len(hub.commits) == 1
    create = next(body for _, path, body in hub.requests if path == "/api/repos/create")
    assert (create["organization"], create["name"], create["type"], create["visibility"]) == ("me", "fake", "dataset", "private")
    posted = [h for (method, _, _), h in zip(hub.requests, hub.headers) if method == "POST"]
    assert all(h.get("authorization") == "Bearer hf_test_token" for h in posted)  # LFS PUTs go to presigned URLs
    header, *lines = hub.commits[0]
    assert header["value"]["summary"] == plan.commit_message
    assert [line["value"]["path"] for line in lines] == [f.path_in_repo for f in plan.files]
    for shard in manifest.shards:  # every shard arrived byte for byte through LFS
        assert hashlib.sha256(hub.lfs_objects[shard.sha256]).hexdigest() == shard.sha256
    inline = {line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines if line["key"] == "file"}
    assert inline["manifest.json"] == (run_copy / "manifest.json").read_bytes()
    assert inline["README.md"] == (run_copy / "README.md").read_bytes()
    assert b'load_dataset("me/fake", "sft", split="train")' in inline["README.md"]  # re-rendered for the repo


def test_plan_refuses_missing_files(run_copy):
    (run_copy / "README.md").unlink()
    with pytest.raises(PublishRefused, match=r"missing README\.md"):
        plan_publish(run_copy, load_manifest(str(run_copy)), "me/fake")


def test_publish_to_a_hub_out_of_reach_is_one_line_naming_hf_endpoint(run_copy, monkeypatch, capsys):
    dead = f"http://127.0.0.1:{find_free_port()}"  # nothing listens: the upload's own connection error surfaces
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setenv("HF_ENDPOINT", dead)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", dead)
    assert _publish_cli(run_copy) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: cannot reach the Hugging Face Hub at {dead}/api/repos/create (connection refused); "
                                f"HF_ENDPOINT is {dead}: start that Hub there or unset HF_ENDPOINT (a source can also be "
                                "a local copy of the repo: its folder as the path)"]
