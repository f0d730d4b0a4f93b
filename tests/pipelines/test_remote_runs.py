"""Remote runs, up to the submission boundary: preset options, guards, the extras named, mmcot staged."""
from __future__ import annotations

import copy
import subprocess
import sys
import zipfile

import pytest
import yaml
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.stager import Stager

from pipelines.cli import main
from pipelines.config import parse_config
from pipelines.remote_guard import RemoteRunRefused, guard_remote_run, run_places, workers_are_remote
from pipelines.runners import RunnerOptionsError, parse_options
from pipelines.staging import staged_mmcot
from pipelines.storage import MissingExtra, require_storage

DATAFLOW = ["--runner=dataflow", "--project=my-project", "--region=us-central1", "--temp_location=gs://b/tmp"]
# a config every remote worker can use: object storage and reachable hosts everywhere
REMOTE_OK = {
    "run": {"name": "r", "output_dir": "gs://b/out"},
    "source": {"kind": "jsonl", "path": "gs://b/src/*.jsonl", "name": "s", "image_root": "gs://b/src"},
    "teacher": {"base_url": "http://teacher-vllm:8000/v1", "model": "m", "cache_url": "gs://b/cache"},
    "judge": {"endpoint": {"base_url": "http://judge-vllm:8000/v1", "model": "j"}},
    "repair": {"enabled": True, "endpoint": {"base_url": "http://10.0.0.7:8000/v1", "model": "r"}},
}


def _config(**changes):
    data = copy.deepcopy(REMOTE_OK)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        if value is None and last != "base_url" and last != "cache_url":
            node.pop(last, None)
        else:
            node[last] = value
    return parse_config(data)


def _refusal(config, args=DATAFLOW) -> str:
    with pytest.raises(RemoteRunRefused) as info:
        guard_remote_run(parse_options(args), run_places(config, config.teacher.cache_url))
    return str(info.value)


@pytest.mark.parametrize("missing", ["project", "region", "temp_location"])
def test_dataflow_preset_names_each_missing_option(missing):
    args = [a for a in DATAFLOW if not a.startswith(f"--{missing}=")]
    with pytest.raises(RunnerOptionsError) as info:
        parse_options(args)
    message = str(info.value)
    assert f"--{missing} is missing" in message
    assert all(f"--{other} is missing" not in message for other in {"project", "region", "temp_location"} - {missing})


def test_dataflow_by_class_name_is_checked_too_and_all_missing_options_are_named_at_once():
    with pytest.raises(RunnerOptionsError) as info:
        parse_options(["--runner", "DataflowRunner"])
    assert all(f"--{name} is missing" in str(info.value) for name in ("project", "region", "temp_location"))


def test_dataflow_temp_location_must_be_on_object_storage():
    with pytest.raises(RunnerOptionsError, match=r"--temp_location /tmp/x is a local path"):
        parse_options([*DATAFLOW[:-1], "--temp_location=/tmp/x"])


def test_flink_preset_needs_flink_master():
    with pytest.raises(RunnerOptionsError, match=r"--flink_master is missing"):
        parse_options(["--runner", "flink"])
    with pytest.raises(RunnerOptionsError, match=r"--flink_master is missing"):
        parse_options(["--runner=FlinkRunner", "--environment_type=DOCKER"])
    options = parse_options(["--runner", "flink", "--flink_master=flink-jm:8081", "--environment_type=EXTERNAL",
                             "--environment_config=beam-worker-pool:50000"])
    assert workers_are_remote(options)


def test_a_config_on_object_storage_with_reachable_hosts_passes_the_guard():
    config = _config()
    guard_remote_run(parse_options(DATAFLOW), run_places(config, config.teacher.cache_url))


@pytest.mark.parametrize("change, key, advice", [
    ({"teacher__base_url": None}, "teacher.base_url", "embedded teacher"),
    ({"teacher__base_url": "http://127.0.0.1:18000/v1"}, "teacher.base_url", "loopback"),
    ({"teacher__base_url": "http://localhost:8000/v1"}, "teacher.base_url", "loopback"),
    ({"teacher__base_url": "http://[::1]:8000/v1"}, "teacher.base_url", "loopback"),
    ({"teacher__base_url": "http://0.0.0.0:8000/v1"}, "teacher.base_url", "loopback"),
    ({"judge__endpoint__base_url": "http://127.0.0.2:9000/v1"}, "judge.endpoint.base_url", "loopback"),
    ({"repair__endpoint__base_url": "http://localhost:9000/v1"}, "repair.endpoint.base_url", "loopback"),
    ({"run__output_dir": "out/sample"}, "run.output_dir", "gs:// or s3://"),
    ({"run__output_dir": "file:///data/out"}, "run.output_dir", "gs:// or s3://"),
    ({"teacher__cache_url": "/tmp/cache"}, "teacher.cache_url", "gs:// or s3://"),
    ({"teacher__cache_url": None}, "teacher.cache_url", "all workers share"),
    ({"source__path": "data/sample/problems.jsonl"}, "sources[s].path", "gs:// or s3://"),
    ({"source__image_root": "/data/images"}, "sources[s].image_root", "gs:// or s3://"),
    ({"teacher__backend": "vllm", "judge__endpoint__backend": "vllm", "repair__endpoint__backend": "vllm"},
     "teacher.engine.model_path", "Hugging Face model id"),
])
def test_each_unreachable_key_is_refused_with_its_name_and_what_to_set(change, key, advice):
    message = _refusal(_config(**change))
    lines = message.splitlines()[1:]
    assert len(lines) == (3 if "teacher__backend" in change else 1), message
    assert lines[0].strip().startswith(key) and advice in lines[0]
    assert "DataflowRunner" in message


def test_every_refusal_is_listed_at_once_and_on_every_remote_runner():
    config = _config(teacher__base_url=None, run__output_dir="out", teacher__cache_url=None, source__path="x.jsonl")
    for args in (DATAFLOW, ["--runner=flink", "--flink_master=jm:8081"],
                 ["--runner=PortableRunner", "--job_endpoint=jobs.example:8099"],
                 ["--runner=portable", "--environment_type=DOCKER"],
                 ["--runner=portable", "--environment_type=EXTERNAL", "--environment_config=pool.example:50000"],
                 ["--runner=dask", "--dask_client_address=tcp://10.1.2.3:8786"]):
        message = _refusal(config, args)
        assert all(k in message for k in ("teacher.base_url", "run.output_dir", "teacher.cache_url", "sources[s].path")), args


@pytest.mark.parametrize("args", [[], ["--runner=direct-mp"], ["--runner=portable"], ["--runner=dask"],
                                  ["--runner=dask", "--dask_client_address=tcp://127.0.0.1:8786"],
                                  ["--runner=portable", "--environment_type=EXTERNAL", "--environment_config=localhost:50000"]])
def test_local_runners_are_never_refused(args):
    config = _config(teacher__base_url=None, run__output_dir="out", teacher__cache_url=None, source__path="x.jsonl")
    options = parse_options(args)
    assert not workers_are_remote(options)
    guard_remote_run(options, run_places(config, None))


def test_mmcot_run_refuses_before_clearing_or_starting_anything(tmp_path):
    out = tmp_path / "out"
    (out / "sft").mkdir(parents=True)
    (out / "sft" / "keep.parquet").write_bytes(b"x")
    data = copy.deepcopy(REMOTE_OK)
    data["run"]["output_dir"] = str(out)
    data["teacher"]["base_url"] = None  # would start the embedded teacher if the guard came later
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--config", str(tmp_path / "c.yaml"), *DATAFLOW],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to submit to DataflowRunner" in proc.stderr and "run.output_dir" in proc.stderr
    assert "teacher.base_url" in proc.stderr and (out / "sft" / "keep.parquet").exists()


def test_mmcot_run_names_the_missing_preset_option(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(REMOTE_OK))
    assert main(["run", "--config", str(tmp_path / "c.yaml"), "--runner", "dataflow", "--project=p"]) == 2
    stderr = capsys.readouterr().err
    assert "--region is missing" in stderr and "--temp_location is missing" in stderr


def test_a_missing_extra_is_named_before_anything_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if not installed: importing it raises ImportError
    with pytest.raises(MissingExtra) as info:
        require_storage({"run.output_dir": "s3://b/out", "source.path": "data/x.jsonl", "teacher.cache_url": None})
    assert "run.output_dir: s3://b/out needs the 'aws' extra: pip install 'mmcot[aws]'" in str(info.value)
    assert "s3fs" in str(info.value) and "source.path" not in str(info.value)
    require_storage({"run.output_dir": "gs://b/out"})  # the test extra installs what gs:// needs


def _staged_files(options, tmp_path) -> dict[str, str]:
    """staged name -> local file, of the resources Beam's Stager would upload for ``options``."""
    resources = Stager.create_job_resources(options, str(tmp_path), log_submission_env_dependencies=False)
    staged = {}
    for artifact in resources:
        role = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(artifact.role_payload)
        staged[role.staged_name] = beam_runner_api_pb2.ArtifactFilePayload.FromString(artifact.type_payload).path
    return staged


def test_dataflow_stages_a_wheel_of_this_mmcot(tmp_path):
    options = parse_options(DATAFLOW)
    with staged_mmcot(options) as wheel:
        staged = _staged_files(options, tmp_path)
        wheels = [name for name in staged if name.startswith("mmcot-") and name.endswith(".whl")]
        assert wheels == [wheel.name], staged
        with zipfile.ZipFile(staged[wheels[0]]) as whl:
            names = set(whl.namelist())
        assert {"transforms/sources/read.py", "transforms/dedup/near.py", "pipelines/build.py", "schemas/problem.py",
                "data_cards/card.py"} <= names
        with zipfile.ZipFile(staged[wheels[0]]) as whl, open("transforms/sources/read.py", "rb") as src:
            assert whl.read("transforms/sources/read.py") == src.read()
        assert "extra_packages.txt" in staged


def test_no_wheel_when_the_user_brings_a_worker_image_or_for_local_runners(tmp_path):
    for args in ([*DATAFLOW, "--sdk_container_image=us-docker.pkg.dev/p/r/mmcot:0.1"], ["--runner=portable"], []):
        options = parse_options(args)
        with staged_mmcot(options) as wheel:
            assert wheel is None
            assert not any(n.startswith("mmcot-") for n in _staged_files(options, tmp_path / str(len(args))))


@pytest.mark.parametrize("name, args", [("dataflow", DATAFLOW), ("r1v_round", DATAFLOW),
                                        ("flink", ["--runner=flink", "--flink_master=flink-jobmanager:8081",
                                                   "--environment_type=DOCKER", "--environment_config=r/mmcot-cpu:0.1.0"])])
def test_the_remote_presets_validate_and_pass_the_guard(name, args):
    from pipelines.config import load_config

    config = load_config(f"configs/{name}.yaml")
    options = parse_options(args)
    assert workers_are_remote(options)
    guard_remote_run(options, run_places(config, config.teacher.cache_url))
