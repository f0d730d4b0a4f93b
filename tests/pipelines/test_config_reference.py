"""The config reference generated from the settings models: every field described, the shipped JSON Schemas and
docs/config.md current, `mmcot config check` on every shipped config and on typos, the schemas accepting the configs."""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.config import ConfigError, PipelineConfig, load_config, parse_config
from pipelines.config_cli import check_text, is_rounds_file
from pipelines.config_reference import (
    REFERENCE_FILE,
    REGENERATE,
    SCHEMA_FILES,
    _slug,
    reference_markdown,
    schema_text,
    sections,
)
from pipelines.rounds import RoundsSettings, load_rounds
from tests.support.paths import REPO

ROOT = REPO
SHIPPED = sorted((ROOT / "configs").glob("*.yaml"))
MINIMAL = {"run": {"name": "x", "output_dir": "out"}, "source": {"kind": "jsonl", "path": "p.jsonl", "name": "s"}}
ROOTS = (PipelineConfig, RoundsSettings)


def _is_rounds(path: Path) -> bool:
    return is_rounds_file(yaml.safe_load(path.read_text()))


def test_every_field_of_every_settings_class_has_a_description():
    missing = [f"{model.__module__}.{model.__name__}.{name} (config key {'.'.join(filter(None, (path, name)))})"
               for root in ROOTS for model, path in sections(root).items()
               for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert not missing, ("settings fields without a description (add Field(description=...) and run "
                         f"`{REGENERATE}`):\n  " + "\n  ".join(missing))


def test_the_walk_reaches_every_settings_class_of_both_files():
    owner = sections(PipelineConfig)
    names = {model.__name__: path for model, path in owner.items()}
    # one class per section, at its shortest path: the teacher's keys at teacher, not judge.endpoint
    assert names["TeacherSettings"] == "teacher" and names["SourceSettings"] == "source"
    assert names["Band"] == "length.bands[]" and names["BenchmarkSpec"] == "dedup.decontam.benchmarks[]"
    assert names["HygieneSettings"] == "verify.hygiene" and names["TakeSettings"] == "source.take"
    assert len(owner) >= 30 and sum(len(m.model_fields) for m in owner) >= 200
    assert {m.__name__ for m in sections(RoundsSettings)} == {"RoundsSettings", "RoundSettings", "RoundTake"}


@pytest.mark.parametrize("model", ROOTS, ids=lambda m: m.__name__)
def test_the_shipped_json_schema_is_what_the_code_generates(model):
    path = ROOT / SCHEMA_FILES[model]
    assert path.exists(), f"{SCHEMA_FILES[model]} is missing: run `{REGENERATE}`"
    assert path.read_text() == schema_text(model), f"{SCHEMA_FILES[model]} is stale: run `{REGENERATE}`"


def test_the_config_reference_page_is_what_the_code_generates():
    path = ROOT / REFERENCE_FILE
    assert path.exists(), f"{REFERENCE_FILE} is missing: run `{REGENERATE}`"
    assert path.read_text() == reference_markdown(), f"{REFERENCE_FILE} is stale: run `{REGENERATE}`"


def _tables(markdown: str) -> dict[str, list[list[str]]]:
    """Heading → the rows of the table under it (cells stripped), for every ## and ### heading."""
    tables: dict[str, list[list[str]]] = {}
    heading = None
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().strip("`")
            tables[heading] = []
        elif line.startswith("| `") and heading is not None:
            tables[heading].append([c.strip() for c in line.strip("|").split(" | ")])
    return tables


def test_the_reference_has_one_row_per_key_with_its_description_and_every_link_lands():
    page = reference_markdown()
    tables = _tables(page)
    for root, title in ((PipelineConfig, "Run config"), (RoundsSettings, "Rounds file")):
        for model, path in sections(root).items():
            rows = tables[path or title]
            assert [r[0] for r in rows] == [f"`{k}`" for k in model.model_fields], path
            for row, field in zip(rows, model.model_fields.values()):
                assert len(row) == 4 and row[3], (path, row)  # key, type, default, a description
                assert (row[2] == "required") == field.is_required(), (path, row)
    anchors = {_slug(h) for h in tables}
    links = re.findall(r"\]\(#([^)]+)\)", page)
    assert links and set(links) <= anchors
    assert "<think>" not in page and "&lt;think&gt;" in page  # HTML in a description is escaped, not swallowed
    assert "|pred" not in page and "&#124;pred" in page  # so is a pipe, which would split the table's cell


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_names_its_schema_on_its_first_line(path):
    schema = SCHEMA_FILES[RoundsSettings if _is_rounds(path) else PipelineConfig]
    first = path.read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema=./{Path(schema).name}"
    assert (path.parent / Path(schema).name).resolve() == (ROOT / schema).resolve()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_config_check_passes_every_shipped_config_and_prints_it_resolved(path, capsys):
    assert main(["config", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    docs = list(yaml.safe_load_all(out))
    if _is_rounds(path):
        settings_, configs = load_rounds(path)
        assert RoundsSettings.model_validate(docs[0]) == settings_
        assert [parse_config(d) for d in docs[1:]] == configs
        assert all(d["run"]["iteration"] == i for i, d in enumerate(docs[1:], start=1))
    else:
        (resolved,) = docs
        config = load_config(path)
        assert parse_config(resolved) == config
        # every key is there, defaults included: the printed mapping is the whole model dump
        assert resolved == config.model_dump(mode="json")
        assert resolved["verify"]["max_exponent"] == 10_000 and resolved["teacher"]["engine"]["max_model_len"]


def test_config_check_is_idempotent(tmp_path):
    first = check_text(ROOT / "configs" / "sample.yaml")
    again = tmp_path / "resolved.yaml"
    again.write_text(first)
    assert check_text(again).split("\n", 1)[1] == first.split("\n", 1)[1]


@pytest.mark.parametrize("sections_,line", [
    ({"teacher": {"max_in_fligt": 8}}, "teacher.max_in_fligt: unknown key (did you mean teacher.max_in_flight?)"),
    ({"verify": {"hygiene": {"student_tokeniser": "x"}}},
     "verify.hygiene.student_tokeniser: unknown key (did you mean verify.hygiene.student_tokenizer?)"),
    ({"dedup": {"decontam": {"benchmarks": [{"name": "b", "path": "b.jsonl", "question_colum": "q"}]}}},
     "dedup.decontam.benchmarks.0.question_colum: unknown key (did you mean dedup.decontam.benchmarks.0.question_column?)"),
    ({"select": {"rl_min_pas_rate": 0.1}}, "select.rl_min_pas_rate: unknown key (did you mean select.rl_min_pass_rate?)"),
])
def test_config_check_names_a_typo_and_suggests_the_nearest_key(sections_, line, tmp_path, capsys):
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, **sections_}))
    assert main(["config", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"  {line}" in err.splitlines()
    assert err.startswith(f"error: {path}: 1 invalid key(s):")


def test_config_check_on_a_rounds_file_names_a_typo_in_it_and_in_its_base(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**MINIMAL, "lenght": {}}))
    rounds = tmp_path / "rounds.yaml"
    rounds.write_text(yaml.safe_dump({"base": "base.yaml", "output_dir": "o", "rounds": [{"name": "a", "take": {}}]}))
    assert main(["config", "check", str(rounds)]) == 2
    assert "rounds.0.take: unknown key (did you mean rounds.0.takes?)" in capsys.readouterr().err
    rounds.write_text(yaml.safe_dump({"base": "base.yaml", "output_dir": "o", "rounds": [{"name": "a"}]}))
    assert main(["config", "check", str(rounds)]) == 2
    assert "lenght: unknown key (did you mean length?)" in capsys.readouterr().err


def test_config_check_refuses_a_missing_file_and_bad_yaml_in_one_line(tmp_path, capsys):
    assert main(["config", "check", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.yaml'}: cannot read it (No such file or directory)\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [unclosed\n")
    assert main(["config", "check", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not valid YAML")


DICT_SECTIONS = [(tuple(filter(None, path.split("."))), model) for model, path in sections(PipelineConfig).items()
                 if "[" not in path]  # sections a config reaches through mappings only


def _merge(base: dict, path: tuple[str, ...], key: str) -> dict:
    """``base`` with ``key: 1`` set at ``path`` (the sections on the way kept or created)."""
    if not path:
        return {**base, key: 1}
    return {**base, path[0]: _merge(base.get(path[0], {}), path[1:], key)}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DICT_SECTIONS), st.data())
def test_a_dropped_letter_in_any_key_is_named_with_a_suggestion_at_least_as_close(location, data):
    path, model = location
    keys = list(model.model_fields)
    key = data.draw(st.sampled_from(keys))
    i = data.draw(st.integers(0, len(key) - 1))
    typo = key[:i] + key[i + 1:]
    if len(key) < 3 or typo in keys:
        return
    with pytest.raises(ConfigError) as err:
        parse_config(_merge(MINIMAL, path, typo))
    dotted = ".".join((*path, typo))
    (line,) = [ln for ln in str(err.value).splitlines() if ln.startswith(f"  {dotted}: ")]
    near = re.fullmatch(rf"  {re.escape(dotted)}: unknown key \(did you mean (\S+)\?\)", line)
    assert near, line
    suggested = near.group(1).rsplit(".", 1)[-1]
    assert suggested in keys
    ratio = difflib.SequenceMatcher(None, typo, key).ratio()
    assert difflib.SequenceMatcher(None, typo, suggested).ratio() >= ratio - 1e-9


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_json_schema_accepts_every_shipped_config_and_its_resolved_form(path):
    model = RoundsSettings if _is_rounds(path) else PipelineConfig
    schema = json.loads((ROOT / SCHEMA_FILES[model]).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    data = yaml.safe_load(path.read_text())
    assert not list(validator.iter_errors(data))
    resolved = next(yaml.safe_load_all(check_text(path)))
    assert not list(validator.iter_errors(resolved))


@pytest.mark.parametrize("patch,where", [
    ({"teacher": {"max_in_fligt": 8}}, ["teacher"]),
    ({"teacher": {"max_in_flight": 0}}, ["teacher", "max_in_flight"]),
    ({"length": {"policy": "shortest"}}, ["length", "policy"]),
    ({"dedup": {"near_text": {"threshold": 1.5}}}, ["dedup", "near_text", "threshold"]),
    ({"source": {**MINIMAL["source"], "name": "a/b"}}, ["source"]),
])
def test_the_json_schema_rejects_what_validation_rejects(patch, where):
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / SCHEMA_FILES[PipelineConfig]).read_text()))
    config = {**MINIMAL, **patch}
    with pytest.raises(ConfigError):
        parse_config(config)
    errors = list(validator.iter_errors(config))
    assert errors and any(list(e.absolute_path)[:len(where)] == where for e in errors), [e.message for e in errors]


def test_config_schema_and_reference_print_what_is_shipped(capsys):
    assert main(["config", "schema"]) == 0
    assert capsys.readouterr().out == (ROOT / SCHEMA_FILES[PipelineConfig]).read_text()
    assert main(["config", "schema", "--rounds"]) == 0
    assert capsys.readouterr().out == (ROOT / SCHEMA_FILES[RoundsSettings]).read_text()
    assert main(["config", "reference"]) == 0
    assert capsys.readouterr().out == (ROOT / REFERENCE_FILE).read_text()
