"""``mmcot evaluate``'s logic on the scripted teacher backend (no server): the prompt, the verdicts, the figures.

The scripted backend answers each problem from a rule the test writes, so what the report must say
(who is right, per band and answer type, lengths, dead letters) is computed here independently from
the problems themselves. The real vLLM server is in ``test_evaluate_integration.py``.
"""
from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.cli import main as mmcot
from pipelines.eval_stats import wilson
from pipelines.evaluate import EvalSetup, evaluation_table, model_endpoint, read_items, run_evaluation, served_name
from schemas.evaluation import EvalReport
from schemas.problem import IMAGE_MARKER, ImageMeta, ImageRef, Problem
from transforms.bands import band_for
from transforms.evaluate import EvaluateSettings
from transforms.sources import SourceSettings
from transforms.student import student_messages, student_text
from transforms.synth import generate, write_jsonl
from transforms.teachers.messages import student_prompt
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

N = 24


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """24 synthetic problems (JSONL + images) and their records."""
    folder = tmp_path_factory.mktemp("heldout")
    problems = list(generate(N, 7))
    write_jsonl(problems, folder)
    return folder / "problems.jsonl", problems


def _setup(path, **ask) -> EvalSetup:
    return EvalSetup(source=SourceSettings(kind="jsonl", path=str(path), name="heldout"), ask=EvaluateSettings(**ask))


def _gets_right(pid: str) -> bool:
    """Which problems the scripted student answers right: a fixed, arbitrary half."""
    return hashlib.sha256(pid.encode()).digest()[0] % 2 == 0


def _wrong(p) -> str:
    """A reply naming a wrong answer: another option's letter, or the number plus one."""
    wrong = ("A" if p.answer != "A" else "B") if p.choices else f"{float(p.answer) + 1:g}"
    return f"<think>I looked at the picture quickly.</think> The answer is \\boxed{{{wrong}}}."


def _answering(problems, wrong_reply=_wrong) -> Script:
    """A script that answers each problem (found by its prompt) right or wrong as ``_gets_right`` says."""
    rules = [Rule(Reply(f"<think>{'x ' * (5 + i)}</think> The answer is \\boxed{{{p.answer}}}.") if _gets_right(p.id)
                  else Reply(wrong_reply(p)), match=_prompt(p)) for i, p in enumerate(problems)]
    return Script(rules=rules, default=None)


def test_every_problem_is_asked_once_with_the_student_prompt_and_verified(heldout, tmp_path):
    path, problems = heldout
    script = _answering(problems)
    endpoint = Endpoint(scripted_settings(script, max_in_flight=4), str(tmp_path / "cache"))
    report = run_evaluation(_setup(path, max_tokens=77), endpoint, str(tmp_path / "eval"))

    assert len(script.calls) == N and script.peak_in_flight <= 4
    for call in script.calls:  # the SFT user turn with the caption for the image; greedy, one budget for all
        assert call.text.startswith("Image description: ") and IMAGE_MARKER not in call.text
        assert (call.plan.max_tokens, call.plan.temperature, call.plan.n, call.sample) == (77, 0.0, 1, 0)
    assert sorted(c.text for c in script.calls) == sorted(_prompt(p) for p in problems)

    right = [p for p in problems if _gets_right(p.id)]
    assert (report.read, report.evaluated, report.overall.correct) == (N, N, len(right)) and report.balanced()
    assert (report.overall.low, report.overall.high) == wilson(len(right), N)
    assert report.reasons == {"wrong_answer": N - len(right)}
    expected_bands = {}
    for p in problems:
        expected_bands.setdefault(band_for(p.difficulty, _setup(path).bands).name, []).append(_gets_right(p.id))
    assert {g.group: (g.n, g.correct) for g in report.by_band} == {b: (len(v), sum(v)) for b, v in expected_bands.items()}
    expected_types = {}
    for p in problems:
        expected_types.setdefault(p.answer_type, []).append(_gets_right(p.id))
    assert {g.group: (g.n, g.correct) for g in report.by_answer_type} == {t: (len(v), sum(v)) for t, v in expected_types.items()}

    items = read_items(str(tmp_path / "eval"))
    assert {i.problem_id.split("/", 1)[1]: i.correct for i in items} == {p.id: _gets_right(p.id) for p in problems}
    assert report.overall.mean_tokens_correct == pytest.approx(
        sum(i.completion_tokens for i in items if i.correct) / len(right), abs=0.05)
    on_disk = EvalReport.from_json((tmp_path / "eval" / "evaluation.json").read_text())
    assert on_disk == report and json.loads(report.to_json())["interval"].startswith("Wilson")
    table = evaluation_table(report)
    assert f"{report.overall.correct:>7}" in table and "band easy" in table and "Wilson" in table


def test_a_rerun_takes_every_answer_from_the_cache_and_says_the_same(heldout, tmp_path):
    path, problems = heldout
    name = "scripted-student-cache"
    first = run_evaluation(_setup(path), Endpoint(scripted_settings(_answering(problems), name=name),
                                                  str(tmp_path / "cache")), str(tmp_path / "a"))
    silent = Script(default=None)  # would fail every call: a rerun must not make one
    again = run_evaluation(_setup(path), Endpoint(scripted_settings(silent, name=name), str(tmp_path / "cache")),
                           str(tmp_path / "b"))
    assert not silent.calls and again.from_cache == N and first.from_cache == 0
    assert (again.overall, again.by_band, again.by_answer_type) == (first.overall, first.by_band, first.by_answer_type)


HOSTILE = ["", "\\boxed{", "\x00\x07\x1b[2J" * 50, "<think><think></think>\\boxed{A}", "\\boxed{}" * 2000,
           "I cannot see the image.", "\ud800 lone surrogate \\boxed{1}"]


def test_failures_and_hostile_replies_are_counted_never_crash(heldout, tmp_path):
    path, problems = heldout
    failing = {p.id for p in problems[:3]}
    truncated = problems[3]
    rules = [Rule(Reply(fail="http_500"), match=_prompt(p)) for p in problems if p.id in failing]
    rules.append(Rule(Reply(f"\\boxed{{{truncated.answer}}} and then", finish_reason="length"), match=_prompt(truncated)))
    rules += [Rule(Reply(HOSTILE[i % len(HOSTILE)]), match=_prompt(p)) for i, p in enumerate(problems[4:])]
    report = run_evaluation(_setup(path), Endpoint(scripted_settings(Script(rules=rules, default=None)),
                                                   str(tmp_path / "cache")), str(tmp_path / "eval"))
    # a lone surrogate cannot be stored (cache, Parquet): the reply gate refuses it, so that problem is dead-lettered
    # as the teacher's bad text, not dropped
    unstorable = sum("\ud800" in HOSTILE[i % len(HOSTILE)] for i in range(len(problems) - 4))
    assert report.read == N and report.evaluated == N - 3 - unstorable and report.balanced()
    assert report.dead_lettered == {"evaluate/teacher_http_500": 3, "evaluate/teacher_bad_text": unstorable}
    items = {i.problem_id.split("/", 1)[1]: i for i in read_items(str(tmp_path / "eval"))}
    assert not items[truncated.id].correct and "truncated" in items[truncated.id].reasons  # a right box, cut off
    assert all(reasons for i in items.values() for reasons in [i.reasons] if not i.correct)  # a wrong answer says why


def test_a_vision_student_gets_the_images_at_their_tags(heldout, tmp_path):
    path, problems = heldout
    script = _answering(problems[:1])
    script.default = Reply("\\boxed{0}")
    run_evaluation(_setup(path, modality="vision"), Endpoint(scripted_settings(script), str(tmp_path / "cache")),
                   str(tmp_path / "eval"))
    # the scripted backend reads the text parts: the SFT prompt without its tags, no caption
    assert sorted(c.text for c in script.calls) == sorted(
        "\n".join(student_prompt(_as_problem(p)).split(IMAGE_MARKER)).strip() for p in problems)


def _prompt(p) -> str:
    """The text student's prompt for a synthetic record."""
    return student_text(_as_problem(p))


def _as_problem(p, images: int = 1) -> Problem:
    """A synthetic record as normalize makes it (its prompt is what matters here)."""
    return Problem(id=p.id, source="heldout", split="train", question=p.question, answer=p.answer,
                   answer_type=p.answer_type, images=[ImageRef(b"x", None)] * images,
                   image_meta=[ImageMeta(1, 1, "PNG", f"{i:064x}", "0" * 16) for i in range(images)],
                   choices=p.choices, caption=p.caption)


texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(question=texts, caption=texts, choices=st.lists(texts, max_size=5), images=st.integers(0, 3),
       at=st.lists(st.integers(0, 40), min_size=3, max_size=3))
def test_student_prompts_are_the_sft_prompt_in_two_forms(question, caption, choices, images, at):
    cuts = sorted(min(a, len(question)) for a in at[:images])  # markers anywhere in the question, as normalize leaves them
    marked = IMAGE_MARKER.join(question[i:j] for i, j in zip([0, *cuts], [*cuts, len(question)]))
    p = Problem(id="s/1", source="s", split="train", question=marked, answer="1",
                answer_type="multiple_choice" if choices else "numeric", images=[ImageRef(b"x", None)] * images,
                image_meta=[ImageMeta(1, 1, "PNG", f"{i:064x}", "0" * 16) for i in range(images)], choices=choices,
                caption=caption)
    sft = student_prompt(p)
    (vision,) = student_messages(p, "vision")
    (text,) = student_messages(p, "text")
    if not images:  # nothing to see: both are the SFT prompt itself
        assert vision["content"] == text["content"] == sft
        return
    parts = vision["content"]
    assert [q["image_url"]["url"] for q in parts if q["type"] == "image_url"] == [
        f"mmcot-image:{m.sha256}" for m in p.image_meta]
    shown = "".join(q["text"] for q in parts if q["type"] == "text")
    assert "".join(shown.split()) == "".join(sft.replace(IMAGE_MARKER, "").split())  # blank pieces alone are left out
    assert text["content"].startswith(f"Image description: {caption}")
    assert IMAGE_MARKER not in text["content"] and text["content"].endswith(sft.rsplit("\n\n", 1)[-1])


def test_a_local_model_is_served_under_a_name_that_follows_its_weights(tmp_path):
    model = tmp_path / "student"
    model.mkdir()
    with pytest.raises(FileNotFoundError):
        served_name(model)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights one")
    first = served_name(model)
    (model / "model.safetensors").write_bytes(b"weights two")
    assert first.startswith("student-") and served_name(model) != first
    with pytest.raises(ValueError, match="not both"), model_endpoint(model_dir=model, base_url="http://x/v1"):
        pass
    with pytest.raises(ValueError, match="model name"), model_endpoint(base_url="http://x/v1"):
        pass


def test_the_command_refuses_an_endpoint_without_its_model_name(tmp_path, capsys):
    code = mmcot(["evaluate", "--problems", str(tmp_path / "p.jsonl"), "--base-url", "http://127.0.0.1:9/v1",
                  "--output-dir", str(tmp_path / "out")])
    assert code == 2 and "model name" in capsys.readouterr().err
