"""Config loading: the shipped configs validate; bad keys fail naming the key."""
from __future__ import annotations

import pytest
import yaml

from pipelines.config import ConfigError, load_config, parse_config
from tests.support.paths import REPO

ROOT = REPO
MINIMAL = {"run": {"name": "x", "output_dir": "out"}, "source": {"kind": "jsonl", "path": "p.jsonl", "name": "s"}}


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    if path.name.endswith("_rounds.yaml"):  # a rounds file: every round's config validates
        from pipelines.rounds import load_rounds

        configs = load_rounds(path)[1]
    else:
        configs = [load_config(path)]
    assert all(config.run.name and len(config.config_hash()) == 64 for config in configs)


@pytest.mark.parametrize(
    "patch,key",
    [
        ({"teacher": {"max_in_flight": 0}}, "teacher.max_in_flight"),
        ({"teacher": {"modality": "audio"}}, "teacher.modality"),
        ({"teacher": {"backend": "tgi"}}, "teacher.backend"),
        ({"teacher": {"engine": {"cpu_kv_cache_gib": 0}}}, "teacher.engine.cpu_kv_cache_gib"),
        ({"teacher": {"engine": {"max_batch": 256}}}, "teacher.engine.max_batch: unknown key"),
        ({"source": {**MINIMAL["source"], "colums": {}}}, "source.colums: unknown key"),
        ({"length": {"samples": "four"}}, "length.samples"),
        ({"verify": {"require_reasonning": False}}, "verify.require_reasonning"),
        ({"select": {"rl_max_pass_rate": 2}}, "select.rl_max_pass_rate"),
        ({"bogus_section": {}}, "bogus_section: unknown key"),
        ({"run": {"name": "x"}}, "run.output_dir: Field required"),
    ],
)
def test_bad_keys_are_named_in_the_error(patch, key):
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, **patch})
    assert key in str(err.value)


def test_overrides_apply_dotted_keys_and_the_hash_follows_the_content(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run: {name: x, output_dir: out}\nsource: {kind: jsonl, path: p.jsonl, name: s}\n")
    base = load_config(path)
    changed = load_config(path, {"teacher.base_url": "http://h:1/v1", "length.samples": 2})
    assert changed.teacher.base_url == "http://h:1/v1" and changed.length.samples == 2
    assert base.config_hash() != changed.config_hash()
    assert base.config_hash() == load_config(path).config_hash()


def test_yaml_that_is_not_a_mapping_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


@pytest.mark.parametrize("section", ["judge", "repair"])
def test_a_helper_server_endpoint_without_url_is_refused_when_the_teacher_runs_in_process(section):
    helper = {section: {"endpoint": {"backend": "openai"}}}
    with pytest.raises(ConfigError, match=f"{section}.endpoint.base_url"):
        parse_config({**MINIMAL, "teacher": {"backend": "vllm"}, **helper})
    parse_config({**MINIMAL, "teacher": {"backend": "vllm"}, section: {"endpoint": {"base_url": "http://h:1/v1"}}})
    parse_config({**MINIMAL, **helper})  # the teacher's server is there to share


TWO = {"run": MINIMAL["run"], "sources": [
    {"kind": "hub", "path": "AI4Math/MathVista", "name": "mathvista", "split": "testmini", "preset": "mathvista", "limit": 50},
    {"kind": "jsonl", "path": "p.jsonl", "name": "synth", "weight": 0.5, "require_images": False}]}


def test_several_sources_validate_and_the_old_single_source_still_does():
    config = parse_config(TWO)
    assert [s.name for s in config.all_sources] == ["mathvista", "synth"] and config.all_sources[0].limit == 50
    assert [s.name for s in parse_config(MINIMAL).all_sources] == ["s"]


@pytest.mark.parametrize(
    "patch,key",
    [
        ({"sources": [{**TWO["sources"][0], "preset": "mathvista2"}]}, "sources.0: Value error, preset 'mathvista2' is unknown"),
        ({"sources": [TWO["sources"][0], {**TWO["sources"][1], "weight": 0}]}, "sources.1.weight"),
        ({"sources": [{**TWO["sources"][0], "limit": 0}]}, "sources.0.limit"),
        ({"sources": [{**TWO["sources"][0], "kind": "csv"}]}, "sources.0.kind"),
        ({"sources": [{**TWO["sources"][0], "columns": {"querstion": "q"}}]}, "are not mmcot fields"),
        ({"sources": [TWO["sources"][0], {**TWO["sources"][1], "name": "mathvista"}]}, "repeated: ['mathvista']"),
        ({"sources": [{**TWO["sources"][0], "name": "a/b"}]}, "sources.0.name"),
        ({"sources": []}, "at least one source"),
        ({"source": MINIMAL["source"]}, "either source: (one) or sources:"),
    ],
)
def test_bad_source_sections_are_named(patch, key):
    with pytest.raises(ConfigError) as err:
        parse_config({**TWO, **patch})
    assert key in str(err.value)


def test_overrides_index_into_the_sources_list(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(TWO))
    assert load_config(path, {"sources.1.limit": 3}).all_sources[1].limit == 3
