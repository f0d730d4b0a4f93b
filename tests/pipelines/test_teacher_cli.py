"""``mmcot teacher`` is a subcommand of the ``mmcot`` parser (no server needed for these)."""
from __future__ import annotations

import json

import pytest

from pipelines.cli import main


def test_status_and_stop_without_a_background_teacher(tmp_path, capsys):
    assert main(["teacher", "--home", str(tmp_path), "status"]) == 1
    assert main(["teacher", "--home", str(tmp_path), "stop"]) == 0
    assert capsys.readouterr().out.splitlines() == ["no teacher running", "no teacher running"]


def test_stale_state_of_a_dead_server_is_cleared(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "teacher.pid").write_text("999999999\n")
    (run / "teacher.json").write_text(json.dumps({"base_url": "http://127.0.0.1:1/v1", "model": "m", "pid": 999999999}))
    assert main(["teacher", "--home", str(tmp_path), "status"]) == 1
    assert not (run / "teacher.pid").exists() and not (run / "teacher.json").exists()


def test_an_unknown_teacher_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["teacher", "restart"])
    assert exit_.value.code == 2 and "invalid choice: 'restart'" in capsys.readouterr().err


def test_prepare_vision_builds_the_plumbing_vision_teacher(tmp_path, capsys, monkeypatch):
    import dataclasses

    from pipelines import embedded_models
    from pipelines.vision_teacher import VISION_MODEL_NAME

    calls = []
    model = embedded_models.EMBEDDED_MODELS[VISION_MODEL_NAME]
    monkeypatch.setitem(embedded_models.EMBEDDED_MODELS, VISION_MODEL_NAME, dataclasses.replace(
        model, prepare=lambda home, force: calls.append((home, force)) or tmp_path / "models" / VISION_MODEL_NAME))
    assert main(["teacher", "--home", str(tmp_path), "prepare", "--vision", "--force"]) == 0
    assert calls == [(tmp_path, True)]
    assert capsys.readouterr().out.strip() == str(tmp_path / "models" / VISION_MODEL_NAME)


def test_serving_another_model_while_one_runs_is_refused(tmp_path, capsys):
    import os

    run = tmp_path / "run"
    run.mkdir()
    (run / "teacher.pid").write_text(f"{os.getpid()}\n")  # a live pid: the state is current
    (run / "teacher.json").write_text(json.dumps({"base_url": "http://127.0.0.1:1/v1", "model": "smollm2-135m-instruct",
                                                  "pid": os.getpid(), "log_path": "x"}))
    assert main(["teacher", "--home", str(tmp_path), "serve", "--vision"]) == 1
    err = capsys.readouterr().err
    assert "serves smollm2-135m-instruct" in err and "mmcot teacher stop" in err
