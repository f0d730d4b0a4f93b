"""What a newcomer meets when something is out of reach or a key is mistyped: one ``error:`` line naming what was
tried and what to set, exit code 2, the traceback only under ``-v``; an unknown key gets the nearest valid one;
library notes (Beam's apitools warning) stay out of the default log.

Nothing here leaves the machine: a refused connection is a loopback port nothing listens on, an unknown host is a
name under ``.invalid`` (never resolvable), and a place that answers is a loopback server answering 404 to everything
(or the Hub stub).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import typing
import urllib.request

import aiohttp
import httpx
import huggingface_hub
import pytest
import requests
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pipelines.cli import main
from pipelines.config import ConfigError, PipelineConfig, load_config, parse_config
from pipelines.config_keys import nearest_key
from pipelines.logs import LibraryNotes
from pipelines.preflight import check_endpoints, check_places, check_run
from pipelines.reach import Unreachable, reach_failure
from pipelines.rounds import load_rounds
from pipelines.vllm_server import find_free_port
from tests.support.hub_stub import HubStub
from tests.support.loopback_app import LoopbackApp

UNKNOWN_HOST = "nothing-here.invalid"


class NotFoundServer(LoopbackApp):
    """A loopback HTTP server that answers 404 to everything: a place that is reached, whatever it says."""

    def routes(self, app) -> None:
        pass


@pytest.fixture
def dead_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{find_free_port()}"


@pytest.fixture
def answering():
    with NotFoundServer() as server:
        yield f"http://127.0.0.1:{server.port}"


def _config(tmp_path, **sections) -> str:
    data = {"run": {"name": "reach", "output_dir": str(tmp_path / "out")},
            "source": {"kind": "jsonl", "path": str(tmp_path / "p.jsonl"), "name": "s"}, **sections}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _one_error_line(capsys, code: int) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- the Hub ---------------------------------------------------------------------------------------------------

def _hub_config(tmp_path, teacher_url: str) -> str:
    return _config(tmp_path, source={"kind": "hub", "path": "someone/some-dataset", "name": "h"},
                   teacher={"base_url": f"{teacher_url}/v1"})


@pytest.mark.parametrize("kind", ["refused", "unknown host"])
def test_a_hub_source_out_of_reach_is_one_line_naming_the_hub_and_hf_endpoint(kind, dead_url, tmp_path, monkeypatch,
                                                                             capsys):
    endpoint = dead_url if kind == "refused" else f"http://{UNKNOWN_HOST}"
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", endpoint)
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    line = _one_error_line(capsys, main(["run", "--config", _hub_config(tmp_path, dead_url)]))
    assert line.startswith(f"error: sources[h].path: cannot reach the Hugging Face Hub at {endpoint} "
                           "for hf://datasets/someone/some-dataset")
    assert ("(connection refused)" if kind == "refused" else "(unknown host)") in line
    assert f"HF_ENDPOINT is {endpoint}" in line and "local copy" in line
    assert not (tmp_path / "out").exists()  # refused before anything was cleared or started


def test_hub_offline_mode_is_named_as_the_reason(dead_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    line = _one_error_line(capsys, main(["dedup", "--config", _hub_config(tmp_path, dead_url),
                                         "--output", str(tmp_path / "dd")]))
    assert "sources[h].path: cannot reach the Hugging Face Hub" in line and "(HF_HUB_OFFLINE is set)" in line
    assert "unset it" in line


def test_a_hub_that_answers_passes_and_the_next_place_is_checked(dead_url, tmp_path, monkeypatch, capsys):
    with HubStub() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)
        line = _one_error_line(capsys, main(["run", "--config", _hub_config(tmp_path, dead_url)]))
    assert "Hugging Face Hub" not in line and line.startswith("error: teacher.base_url: cannot reach the model server")


# --- model servers ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["refused", "unknown host"])
def test_a_teacher_out_of_reach_is_one_line_naming_the_url_and_what_to_set(kind, dead_url, tmp_path, capsys):
    url = f"{dead_url}/v1" if kind == "refused" else f"http://{UNKNOWN_HOST}:8000/v1"
    line = _one_error_line(capsys, main(["run", "--config", _config(tmp_path), "--teacher-url", url]))
    assert line.startswith(f"error: teacher.base_url: cannot reach the model server at {url} "
                           f"({'connection refused' if kind == 'refused' else 'unknown host'})")
    assert "--teacher-url" in line and "--cache-only" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("section", ["judge", "answer_judge", "repair", "scorer"])
def test_a_helper_endpoint_out_of_reach_is_named_by_its_own_key(section, answering, dead_url, tmp_path, capsys):
    helper = {"endpoint": {"base_url": f"{dead_url}/v1", "model": "m"}} | ({"enabled": True} if section == "repair" else {})
    config = _config(tmp_path, teacher={"base_url": f"{answering}/v1"}, **{section: helper})
    line = _one_error_line(capsys, main(["run", "--config", config]))
    assert line.startswith(f"error: {section}.endpoint.base_url: cannot reach the model server at {dead_url}/v1 "
                           "(connection refused); start the server there or set " f"{section}.endpoint.base_url")


def test_evaluate_names_its_base_url_option(dead_url, tmp_path, capsys):
    line = _one_error_line(capsys, main(["evaluate", "--problems", str(tmp_path / "p.jsonl"), "--base-url",
                                         f"{dead_url}/v1", "--model", "m", "--output-dir", str(tmp_path / "ev")]))
    assert line == (f"error: --base-url: cannot reach the model server at {dead_url}/v1 (connection refused); "
                    "start the server there or set --base-url")


def test_cache_only_and_remote_workers_skip_the_model_servers_but_not_the_buckets(dead_url, tmp_path, monkeypatch):
    config = load_config(_config(tmp_path, teacher={"base_url": f"{dead_url}/v1"}))
    local = PipelineOptions([])
    with pytest.raises(Unreachable, match=r"teacher\.base_url"):
        check_run(config, local, str(tmp_path / "cache"))
    check_run(config, local, str(tmp_path / "cache"), cache_only=True)  # a rerun answered from the cache
    remote = PipelineOptions(["--runner", "DataflowRunner"])
    check_run(config, remote, str(tmp_path / "cache"))  # the workers may reach what this machine cannot
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", dead_url)
    with pytest.raises(Unreachable, match=r"teacher\.cache_url: cannot reach Google Cloud Storage"):
        check_run(config, remote, "gs://bucket/cache", cache_only=True)  # this machine writes there itself


def test_a_server_that_answers_anything_is_reached(answering):
    check_endpoints({"teacher.base_url": f"{answering}/v1"}, lambda key: key)  # a 404 on /models is an answer


# --- buckets and emulators -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["refused", "unknown host"])
def test_a_bucket_behind_an_emulator_out_of_reach_is_one_line(kind, dead_url, tmp_path, monkeypatch, capsys):
    emulator = dead_url if kind == "refused" else f"http://{UNKNOWN_HOST}:4443"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    config = _config(tmp_path, run={"name": "reach", "output_dir": "gs://bucket/out"})
    line = _one_error_line(capsys, main(["run", "--config", config, "--teacher-url", f"{dead_url}/v1"]))
    assert line.startswith(f"error: run.output_dir: cannot reach Google Cloud Storage at {emulator} for gs://bucket/out "
                           f"({'connection refused' if kind == 'refused' else 'unknown host'})")
    assert f"STORAGE_EMULATOR_HOST is {emulator}" in line


def test_card_and_publish_check_their_bucket_first(dead_url, monkeypatch, capsys):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", dead_url.removeprefix("http://"))  # a bare host:port, as gcsfs takes it
    for command in (["card", "gs://bucket/out"], ["publish", "gs://bucket/out", "--repo-id", "me/x", "--dry-run"]):
        line = _one_error_line(capsys, main(command))
        assert line.startswith(f"error: output_dir: cannot reach Google Cloud Storage at {dead_url} for gs://bucket/out")


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
def test_an_s3_endpoint_out_of_reach_names_its_variable(variable, dead_url, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv(variable, dead_url)
    with pytest.raises(Unreachable) as err:
        check_places({"sources[s].path": "s3://bucket/in/*.jsonl", "run.output_dir": "/tmp/local"})
    assert str(err.value).startswith(f"sources[s].path: cannot reach S3 at {dead_url} for s3://bucket/in/*.jsonl "
                                     "(connection refused)")
    assert f"{variable} is {dead_url}" in str(err.value)


def test_an_emulator_that_answers_is_reached_and_local_paths_are_not_asked(answering, dead_url, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", answering)
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead_url)  # never asked: no s3:// path
    check_places({"a": "gs://bucket/x", "b": "/tmp/y", "c": "file:///tmp/z", "d": None})


# --- whatever surfaces later: the chain of any client's connection error ---------------------------------------

async def _aiohttp_get(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(url):
        pass


def _socket_connect(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    socket.create_connection((host, int(port)), timeout=5).close()


CLIENTS = {"httpx": lambda url: httpx.get(url, timeout=5), "aiohttp": lambda url: asyncio.run(_aiohttp_get(url)),
           "requests": lambda url: requests.get(url, timeout=5),
           "urllib": lambda url: urllib.request.urlopen(url, timeout=5), "socket": _socket_connect}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("kind", ["refused", "unknown host"])
def test_every_clients_connection_error_is_one_line_with_its_cause(client, kind, dead_url):
    url = dead_url if kind == "refused" else f"http://{UNKNOWN_HOST}:8080"
    try:  # as it surfaces from deeper code: wrapped by whatever called the client
        try:
            CLIENTS[client](url)
        except Exception as exc:
            raise RuntimeError("listing failed") from exc
        raise AssertionError(f"{client} reached {url}")
    except RuntimeError as wrapped:
        line = reach_failure(wrapped)
    assert line is not None and "\n" not in line
    assert f"({'connection refused' if kind == 'refused' else 'unknown host'})" in line, line
    if client in ("httpx", "aiohttp", "requests"):  # the clients that record where they tried
        assert url.removeprefix("http://") in line, line


def test_the_setting_named_follows_the_host_tried(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:7000")
    for port, setting in ((4443, "STORAGE_EMULATOR_HOST"), (5000, "AWS_ENDPOINT_URL"), (7000, "HF_ENDPOINT"),
                          (9999, "check the URL or host")):
        error = httpx.ConnectError("[Errno 111] Connection refused",
                                   request=httpx.Request("GET", f"http://127.0.0.1:{port}/x"))
        assert setting in reach_failure(error), port


@pytest.mark.parametrize("exc", [ValueError("bad"), FileNotFoundError("x"), BrokenPipeError(), TimeoutError(),
                                 KeyError("k")])
def test_other_errors_are_not_reach_failures(exc):
    assert reach_failure(exc) is None


# --- -v ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_shows_the_traceback_then_the_same_line(where, dead_url, tmp_path, capsys):
    args = ["run", "--config", _config(tmp_path), "--teacher-url", f"{dead_url}/v1"]
    assert main(["-v", *args] if where == "before" else [*args, "-v"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "httpx.ConnectError" in err
    assert err.strip().splitlines()[-1].startswith("error: teacher.base_url: cannot reach the model server")


# --- unknown keys --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sections,line", [
    ({"teacher": {"max_in_fligt": 8}}, "teacher.max_in_fligt: unknown key (did you mean teacher.max_in_flight?)"),
    ({"sourc": {}}, "sourc: unknown key (did you mean source?)"),
    ({"teacher": {"engine": {"dtyp": "float32"}}}, "teacher.engine.dtyp: unknown key (did you mean teacher.engine.dtype?)"),
    ({"judge": {"endpoint": {"bse_url": "x"}}}, "judge.endpoint.bse_url: unknown key (did you mean judge.endpoint.base_url?)"),
    ({"length": {"bands": [{"name": "a", "max_difficulty": 1.0, "max_tokens": 9, "prompt_stlye": "concise"}]}},
     "length.bands.0.prompt_stlye: unknown key (did you mean length.bands.0.prompt_style?)"),
    ({"verify": {"hygiene": {"polcy": "drop"}}}, "verify.hygiene.polcy: unknown key (did you mean verify.hygiene.policy?)"),
    ({"dedup": {"near_text": {"treshold": 0.5}}}, "dedup.near_text.treshold: unknown key (did you mean dedup.near_text.threshold?)"),
    ({"teacher": {"zzzz": 1}}, "teacher.zzzz: unknown key (known here: backend, base_url, model,"),
])
def test_an_unknown_key_gets_the_nearest_valid_one_at_its_level(sections, line, tmp_path, capsys):
    assert main(["run", "--config", _config(tmp_path, **sections)]) == 2
    assert f"  {line}" in capsys.readouterr().err


def test_unknown_keys_in_a_sources_list_an_override_and_a_rounds_file(tmp_path, capsys):
    config = _config(tmp_path)
    assert main(["run", "--config", config, "--set", "teacher.timeout=3", "--set", "output.trainer=[verl]"]) == 2
    err = capsys.readouterr().err
    assert "teacher.timeout: unknown key (did you mean teacher.timeout_s?)" in err
    assert "output.trainer: unknown key (did you mean output.trainers?)" in err
    with pytest.raises(ConfigError, match=r"sources\.1\.imag_root: unknown key \(did you mean sources\.1\.image_root\?\)"):
        parse_config({"run": {"name": "x", "output_dir": "o"}, "sources": [
            {"kind": "jsonl", "path": "a", "name": "a"}, {"kind": "jsonl", "path": "b", "name": "b", "imag_root": "i"}]})
    rounds = tmp_path / "r.yaml"
    rounds.write_text(yaml.safe_dump({"base": "c.yaml", "output_dir": "o", "rounds": [{"name": "a", "sett": {}}]}))
    with pytest.raises(ConfigError, match=r"rounds\.0\.sett: unknown key \(did you mean rounds\.0\.set\?\)"):
        load_rounds(rounds)


def _models(annotation, path):
    """(location, model) for every settings model inside ``annotation`` (list items at 0, dict values at "k")."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield path, annotation
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple, set):
        yield from _models(args[0], (*path, 0))
    elif origin is dict:
        yield from _models(args[1], (*path, "k"))
    else:
        for arg in args:
            yield from _models(arg, path)


def _locations(model, path=()):
    yield path, model
    for name, field in model.model_fields.items():
        for inner_path, inner in _models(field.annotation, (*path, name)):
            yield from _locations(inner, inner_path)


LOCATIONS = list(_locations(PipelineConfig))


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _typo(key: str, edit: str, i: int, letter: str) -> str:
    i %= len(key)
    return {"delete": key[:i] + key[i + 1:], "insert": key[:i] + letter + key[i:],
            "replace": key[:i] + letter + key[i + 1:],
            "swap": key[:i] + key[i + 1:i + 2] + key[i] + key[i + 2:]}[edit]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LOCATIONS), st.data(), st.sampled_from(["delete", "insert", "replace", "swap"]),
       st.integers(0, 40), st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
def test_a_one_edit_typo_of_any_key_at_any_level_suggests_that_key(location, data, edit, i, letter):
    path, model = location
    keys = list(model.model_fields)
    key = data.draw(st.sampled_from(keys))
    typo = _typo(key, edit, i, letter)
    near = [k for k in keys if _edit_distance(typo, k) <= 1]
    if len(key) < 4 or typo in keys or near != [key]:  # too short, still a key, or not one key's typo alone
        return
    assert nearest_key(PipelineConfig, (*path, typo)) == ".".join(str(p) for p in (*path, key))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([(p, m) for p, m in LOCATIONS if "k" not in p]), st.data())
def test_renaming_the_unknown_key_to_the_suggestion_removes_that_error(location, data):
    """Metamorphic: whatever the suggestion, the config validator accepts it at that place."""
    path, model = location
    key = data.draw(st.sampled_from(list(model.model_fields)))
    typo = key[::-1] + "x" if len(key) > 3 else key + "_x"

    def config(leaf: str) -> dict:
        node: typing.Any = {leaf: None}
        for part in reversed(path):
            node = [node] if part == 0 else {part: node}
        return {"run": {"name": "x", "output_dir": "o"}, **node}

    def unknown(err: ConfigError) -> list[str]:
        return [line for line in str(err).splitlines() if "unknown key" in line]

    with pytest.raises(ConfigError) as first:
        parse_config(config(typo))
    dotted = ".".join(str(p) for p in (*path, typo))
    line = next(line for line in unknown(first.value) if line.strip().startswith(f"{dotted}:"))
    if "did you mean" not in line:
        return
    suggestion = line.split("did you mean ")[1].rstrip("?)").rsplit(".", 1)[-1]
    try:
        parse_config(config(suggestion))
    except ConfigError as second:
        assert not [x for x in unknown(second) if x.strip().startswith(".".join(str(p) for p in (*path, suggestion)))]


# --- the default log -------------------------------------------------------------------------------------------

def _record(name: str, msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_library_notes_are_dropped_by_logger_and_template_and_nothing_else():
    notes = LibraryNotes()
    assert not notes.filter(_record("root", "apitools not found, and bigquery client libraries are not available ..."))
    assert not notes.filter(_record("root", "Tags %s requested in with_outputs() but not declared in type hints. x", {"a"}))
    assert not notes.filter(_record("apache_beam.io.filesystems", "Failed to import GCSFileSystem; loading ... %s", "e"))
    assert notes.filter(_record("root", "Tags are fine"))
    assert notes.filter(_record("pipelines.run", "apitools not found, and bigquery client libraries are not available"))
    assert notes.filter(_record("root", "something else went wrong"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The console command in a fresh interpreter: Beam logs its import-time notes only once per process."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_a_plain_command_prints_only_its_error_and_verbose_shows_the_notes_and_traceback(dead_url, tmp_path):
    args = ("run", "--config", _config(tmp_path), "--teacher-url", f"{dead_url}/v1")
    plain = _cli(*args)
    assert plain.returncode == 2
    assert plain.stderr.splitlines() == [
        f"error: teacher.base_url: cannot reach the model server at {dead_url}/v1 (connection refused); start the server "
        "there or set teacher.base_url (or --teacher-url; null starts the embedded teacher); to rerun from the response "
        "cache alone, add --cache-only"]
    verbose = _cli("-v", *args)
    assert verbose.returncode == 2
    assert "WARNING root: apitools not found" in verbose.stderr  # the note exists in this environment ...
    assert "Traceback (most recent call last)" in verbose.stderr  # ... and -v shows it, and the traceback
    assert verbose.stderr.splitlines()[-1] == plain.stderr.splitlines()[0]
