"""Each preset on rows in its dataset's exact Hub schema (tests/support/hub_copies.py), read from a local
copy in the Hub's layout and validated into Problems: answer type, choices, answer, unit, images
in placeholder order, metadata; and the rows a preset must refuse."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from schemas.problem import IMAGE_MARKER
from schemas.source import SourceRow
from tests.support import hub_copies
from transforms.normalize import NormalizeSettings, RowError, to_problem
from transforms.sources.presets import PRESETS, PresetError
from transforms.sources.read import SourceSettings, _iter_parquet, list_files, map_columns


def _problems(repo, preset, split, config=None, require_images=True):
    settings = SourceSettings(kind="hub", path=str(repo), name=preset, split=split, config=config, preset=preset)
    out = []
    for path in list_files(settings):
        for _, raw, _ in _iter_parquet(path):
            fields = map_columns(raw, settings)
            row = SourceRow(row_id=f"{preset}/{fields.get('id')}", source=preset, split=split, fields=fields, image_root=None)
            out.append(to_problem(row, NormalizeSettings(require_images=require_images)))
    return out


def _colour(ref) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(ref.bytes)).convert("RGB").getpixel((1, 1))


def test_mathvista_free_form_units_precision_and_choice_text_to_letter(tmp_path):
    integer, choice, floating = _problems(hub_copies.write_mathvista(tmp_path), "mathvista", "testmini")
    assert (integer.id, integer.answer_type, integer.answer, integer.unit, integer.choices) == ("mathvista/1", "numeric", "14", "cm", [])
    assert integer.question.startswith(IMAGE_MARKER) and integer.question.count(IMAGE_MARKER) == 1 == len(integer.images)
    assert integer.subject == "math-targeted-vqa" and json.loads(integer.metadata)["skills"][0] == "geometry reasoning"
    assert (choice.answer_type, choice.answer, choice.choices, choice.unit) == ("multiple_choice", "B", ["55°", "145°", "35°", "125°"], "")
    assert (floating.answer_type, floating.answer) == ("numeric", "1.45") and json.loads(floating.metadata)["precision"] == 2.0


def test_mathvista_test_split_without_answers_and_bad_rows():
    with pytest.raises(RowError) as err:  # the test split withholds answers: a missing answer, dead-lettered
        to_problem(SourceRow("m/t1", "m", "test", {**PRESETS["mathvista"].fields(
            {**hub_copies.MATHVISTA_ROWS[0], "answer": ""}), "images": [hub_copies.image((1, 2, 3))]}, None), NormalizeSettings())
    assert err.value.reason == "missing_answer"
    with pytest.raises(PresetError, match="answer_not_in_choices"):
        PRESETS["mathvista"].fields({**hub_copies.MATHVISTA_ROWS[1], "answer": "90°"})
    with pytest.raises(PresetError, match="bad_answer_type"):
        PRESETS["mathvista"].fields({**hub_copies.MATHVISTA_ROWS[0], "answer_type": "matrix"})


def test_mmmu_images_follow_their_placeholders_and_options_parse_as_a_python_list(tmp_path):
    repo = hub_copies.write_mmmu(tmp_path)
    compare, open_question = _problems(repo, "mmmu", "validation", config="Accounting")
    # "<image 2> with <image 1>": the second column's picture comes first
    assert compare.question == "Compare <image> with <image>: which table shows the larger total?"
    assert [_colour(i) for i in compare.images] == [hub_copies.MMMU_COLOURS[2], hub_copies.MMMU_COLOURS[1]]
    assert compare.choices == ["The first table", "The second table", "Neither: they're equal"]
    assert (compare.answer_type, compare.answer, compare.subject) == ("multiple_choice", "B", "Accounting")
    assert json.loads(compare.metadata)["img_type"] == ["Diagrams", "Tables"]
    assert (open_question.answer, open_question.answer_type, open_question.choices) == ("1,200", "numeric", [])
    assert json.loads(open_question.metadata)["accepted_answers"] == ["1,200", "1200"]
    (paintings,) = _problems(repo, "mmmu", "validation", config="Art_Theory")
    # images shown as options move into the question, where their markers belong
    assert paintings.question.count(IMAGE_MARKER) == 3 == len(paintings.images)
    assert "A. <image>" in paintings.question and "B. <image>" in paintings.question
    assert paintings.choices == ["the option A above", "the option B above", "the option C above"]
    assert [_colour(i) for i in paintings.images] == [hub_copies.MMMU_COLOURS[k] for k in (1, 2, 3)]
    assert len(_problems(repo, "mmmu", "validation", config="*")) == 3 and len(_problems(repo, "mmmu", "dev", config="*")) == 2


def test_mmmu_renumbers_past_unused_image_columns_and_refuses_bad_rows():
    row = hub_copies._mmmu("validation_Art_1", "See <image 3>.", "[]", "5", "open", {3: hub_copies.image((1, 1, 1))})
    assert PRESETS["mmmu"].fields(row)["question"] == "See <image 1>." and len(PRESETS["mmmu"].fields(row)["images"]) == 1
    for options, reason in (("['a', 'b'", "wrong_type"), ("__import__('os').system('true')", "wrong_type"),
                            ("{'a': 1}", "wrong_type")):
        with pytest.raises(PresetError) as err:
            PRESETS["mmmu"].fields({**row, "options": options, "question_type": "multiple-choice", "answer": "A"})
        assert err.value.reason == reason
    with pytest.raises(PresetError, match="answer_not_in_choices"):
        PRESETS["mmmu"].fields({**row, "options": "['x', 'y']", "question_type": "multiple-choice", "answer": "C"})
    assert PRESETS["mmmu"].fields({**row, "answer": "?"})["answer"] is None  # the test split's withheld answer


def test_mmmu_row_citing_an_image_twice_is_a_marker_mismatch():
    row = hub_copies._mmmu("validation_Art_2", "Is <image 1> the same as <image 1>?", "[]", "yes", "open",
                           {1: hub_copies.image((1, 1, 1)), 2: hub_copies.image((2, 2, 2))})
    with pytest.raises(RowError) as err:
        to_problem(SourceRow("mmmu/x", "mmmu", "validation", PRESETS["mmmu"].fields(row), None), NormalizeSettings())
    assert err.value.reason == "image_marker_mismatch"


def test_geometry3k_letter_from_ground_truth_and_free_answers(tmp_path):
    choice, free = _problems(hub_copies.write_geometry3k(tmp_path), "geometry3k", "train")
    assert (choice.id, choice.answer_type, choice.answer, choice.choices) == ("geometry3k/2101", "multiple_choice", "B",
                                                                              ["2.1", "3.5", "4.2", "5.0"])
    assert choice.question == "<image>Find x. Round to the nearest tenth." and len(choice.images) == 1
    assert (free.answer_type, free.answer, free.choices) == ("expression", "2\\sqrt{221}", [])
    assert PRESETS["geometry3k"].fields({"images": [], "problem": "p", "answer": "3.5", "choices": ["3.5", "4"]})["answer"] == "A"


def test_scienceqa_integer_answer_index_hint_and_optional_image(tmp_path):
    with_image, text_only, with_hint = _problems(hub_copies.write_scienceqa(tmp_path), "scienceqa", "train", require_images=False)
    assert (with_image.answer, with_image.answer_type, len(with_image.images)) == ("A", "multiple_choice", 1)
    assert with_image.question.startswith(IMAGE_MARKER) and with_image.subject == "natural science"
    assert (text_only.answer, text_only.images, text_only.question.count(IMAGE_MARKER)) == ("B", [], 0)
    assert with_hint.question == "Context: Mona will print her name with care.\nWhich tense does the sentence use?"
    assert with_hint.answer == "C" and json.loads(with_hint.metadata)["skill"] == "Read a map"
    assert PRESETS["scienceqa"].REQUIRE_IMAGES is False
    with pytest.raises(PresetError, match="answer_not_in_choices"):
        PRESETS["scienceqa"].fields({**hub_copies.SCIENCEQA_ROWS[1], "answer": 2})


def test_chartqa_label_list_and_class_label_author(tmp_path):
    number, yes = _problems(hub_copies.write_chartqa(tmp_path), "chartqa", "train")
    assert (number.answer, number.answer_type, number.choices) == ("14", "numeric", [])
    assert json.loads(number.metadata) == {"author": "human"}
    assert yes.answer == "Yes" and json.loads(yes.metadata) == {"accepted_answers": ["Yes", "yes"], "author": "machine"}
    assert PRESETS["chartqa"].fields({"image": None, "query": "q", "label": "7", "human_or_machine": 0})["answer"] == "7"
    assert PRESETS["chartqa"].fields({"image": None, "query": "q", "label": [], "human_or_machine": 0})["answer"] is None


def test_columns_override_a_presets_choice():
    settings = SourceSettings(kind="hub", path="x", name="c", preset="chartqa", columns={"caption": "alt_text"})
    fields = map_columns({**hub_copies.CHARTQA_ROWS[0], "alt_text": "a bar chart"}, settings)
    assert fields["caption"] == "a bar chart" and fields["answer"] == "14"
