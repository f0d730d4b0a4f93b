"""Tiny local copies of the preset datasets, in each one's real Hub layout and exact column schema.

Layouts as on the Hub: a card whose ``configs:`` names ``data/<split>-*`` files (MathVista,
ChartQA, Geometry3K), one folder per config with a card listing them (MMMU), and a bare
``data/<split>-*.parquet`` repo with no card (ScienceQA, resolved by the Hub's file-name rules).
Columns and types follow each set's ``dataset_info`` (Image features stored as {bytes, path}).
Rows include the sets' nulls and odd encodings: MathVista's null choices/unit/precision, MMMU's
``options`` as the text of a Python list and unused ``image_N`` columns, ScienceQA's integer
answer and missing image, ChartQA's ``label`` list and class-label author.
"""
from __future__ import annotations

from pathlib import Path

import datasets

from tests.support.helpers import png_bytes

S, I64, F64 = datasets.Value("string"), datasets.Value("int64"), datasets.Value("float64")


def image(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> dict:
    """An image cell as the Hub's Parquet stores it."""
    return {"bytes": png_bytes(size, color), "path": None}


def _write(repo: Path, rel: str, rows: list[dict], features: datasets.Features) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


def _card(repo: Path, configs: dict[str, dict[str, str]]) -> None:
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {pattern}" for split, pattern in splits.items()]
    (repo / "README.md").write_text("\n".join([*lines, "---", "# a local copy for tests", ""]))


MATHVISTA_FEATURES = datasets.Features({
    "pid": S, "question": S, "image": S, "decoded_image": datasets.Image(), "choices": datasets.Sequence(S),
    "unit": S, "precision": F64, "answer": S, "question_type": S, "answer_type": S,
    "metadata": {"category": S, "context": S, "grade": S, "img_height": I64, "img_width": I64, "language": S,
                 "skills": datasets.Sequence(S), "source": S, "split": S, "task": S},
    "query": S,
})


def _mv_meta(category: str) -> dict:
    return {"category": category, "context": "geometry diagram", "grade": "high school", "img_height": 48,
            "img_width": 64, "language": "english", "skills": ["geometry reasoning", "algebraic reasoning"],
            "source": "Geometry3K", "split": "testmini", "task": "geometry problem solving"}


MATHVISTA_ROWS = [
    {"pid": "1", "question": "When a spring does work on an object, we cannot find the work by simply multiplying. "
     "What is the value of x?", "image": "images/1.jpg", "decoded_image": image((10, 120, 200)), "choices": None,
     "unit": "cm", "precision": None, "answer": "14", "question_type": "free_form", "answer_type": "integer",
     "metadata": _mv_meta("math-targeted-vqa"), "query": "Hint: ... Question: ..."},
    {"pid": "2", "question": "As shown in the figure, what is the measure of angle ABC?", "image": "images/2.jpg",
     "decoded_image": image((200, 120, 10)), "choices": ["55°", "145°", "35°", "125°"], "unit": None, "precision": None,
     "answer": "145°", "question_type": "multi_choice", "answer_type": "text", "metadata": _mv_meta("math-targeted-vqa"),
     "query": "..."},
    {"pid": "3", "question": "What is the ratio of the areas?", "image": "images/3.jpg", "decoded_image": image((90, 90, 10)),
     "choices": None, "unit": None, "precision": 2.0, "answer": "1.45", "question_type": "free_form", "answer_type": "float",
     "metadata": _mv_meta("general-vqa"), "query": "..."},
]

MMMU_FEATURES = datasets.Features({
    "id": S, "question": S, "options": S, "explanation": S,
    **{f"image_{i}": datasets.Image() for i in range(1, 8)},
    "img_type": S, "answer": S, "topic_difficulty": S, "question_type": S, "subfield": S,
})


def _mmmu(row_id: str, question: str, options: str, answer: str, qtype: str, images: dict[int, dict]) -> dict:
    return {"id": row_id, "question": question, "options": options, "explanation": "",
            **{f"image_{i}": images.get(i) for i in range(1, 8)}, "img_type": "['Diagrams', 'Tables']",
            "answer": answer, "topic_difficulty": "Medium", "question_type": qtype, "subfield": "Managerial Accounting"}


#: image colours by MMMU column, so a test can tell which picture landed where
MMMU_COLOURS = {1: (250, 0, 0), 2: (0, 250, 0), 3: (0, 0, 250)}
MMMU_ROWS = {
    "Accounting": [
        _mmmu("validation_Accounting_1", "Compare <image 2> with <image 1>: which table shows the larger total?",
              "['The first table', 'The second table', \"Neither: they're equal\"]", "B", "multiple-choice",
              {1: image(MMMU_COLOURS[1]), 2: image(MMMU_COLOURS[2])}),
        _mmmu("validation_Accounting_2", "<image 1> What is the net present value, in dollars?", "[]",
              "['1,200', '1200']", "open", {1: image(MMMU_COLOURS[1])}),
    ],
    "Art_Theory": [
        _mmmu("validation_Art_Theory_1", "Which of these paintings shows chiaroscuro? <image 1>",
              "['<image 2>', '<image 3>', 'Neither']", "A", "multiple-choice",
              {1: image(MMMU_COLOURS[1]), 2: image(MMMU_COLOURS[2]), 3: image(MMMU_COLOURS[3])}),
    ],
}

GEOMETRY3K_FEATURES = datasets.Features({
    "images": datasets.Sequence(datasets.Image()), "problem": S, "answer": S, "id": I64,
    "choices": datasets.Sequence(S), "ground_truth": S,
})
GEOMETRY3K_ROWS = [
    {"images": [image((30, 30, 30))], "problem": "<image>Find x. Round to the nearest tenth.", "answer": "3.5", "id": 2101,
     "choices": ["2.1", "3.5", "4.2", "5.0"], "ground_truth": "B"},
    {"images": [image((60, 160, 60))], "problem": "<image>Find the area of the kite.", "answer": "2\\sqrt{221}",
     "id": 2102, "choices": [], "ground_truth": None},
]

SCIENCEQA_FEATURES = datasets.Features({
    "image": datasets.Image(), "question": S, "choices": datasets.Sequence(S), "answer": datasets.Value("int8"),
    "hint": S, "task": S, "grade": S, "subject": S, "topic": S, "category": S, "skill": S, "lecture": S, "solution": S,
})


def _sqa(question: str, choices: list[str], answer: int, hint: str, picture: dict | None) -> dict:
    return {"image": picture, "question": question, "choices": choices, "answer": answer, "hint": hint,
            "task": "closed choice", "grade": "grade4", "subject": "natural science", "topic": "geography",
            "category": "Geography", "skill": "Read a map", "lecture": "Maps show ...", "solution": "Look at ..."}


SCIENCEQA_ROWS = [
    _sqa("Which of these states is farthest north?", ["West Virginia", "Louisiana", "Arizona", "Oklahoma"], 0, "",
         image((40, 90, 200))),
    _sqa("Which word would you find on a dictionary page with the guide words 'lever' and 'loaf'?",
         ["lamp", "lion"], 1, "", None),
    _sqa("Which tense does the sentence use?", ["past tense", "future tense", "present tense"], 2,
         "Mona will print her name with care.", None),
]

CHARTQA_FEATURES = datasets.Features({
    "image": datasets.Image(), "query": S, "label": datasets.Sequence(S),
    "human_or_machine": datasets.ClassLabel(names=["human", "machine"]),
})
CHARTQA_ROWS = [
    {"image": image((220, 220, 40)), "query": "How many food items are shown in the bar graph?", "label": ["14"],
     "human_or_machine": 0},
    {"image": image((120, 40, 220)), "query": "Is the value of Favorable 38 in 2015?", "label": ["Yes", "yes"],
     "human_or_machine": 1},
]


def write_mathvista(root: Path) -> Path:
    repo = root / "MathVista"
    _write(repo, "data/testmini-00000-of-00001-725687bf7a18d64b.parquet", MATHVISTA_ROWS, MATHVISTA_FEATURES)
    _write(repo, "data/test-00000-of-00001.parquet", [{**MATHVISTA_ROWS[0], "pid": "t1", "answer": ""}], MATHVISTA_FEATURES)
    _card(repo, {"default": {"testmini": "data/testmini-*", "test": "data/test-*"}})
    return repo


def write_mmmu(root: Path) -> Path:
    repo = root / "MMMU"
    for config, rows in MMMU_ROWS.items():
        _write(repo, f"{config}/validation-00000-of-00001.parquet", rows, MMMU_FEATURES)
        _write(repo, f"{config}/dev-00000-of-00001.parquet", rows[:1], MMMU_FEATURES)
    _card(repo, {c: {"dev": f"{c}/dev-*", "validation": f"{c}/validation-*"} for c in MMMU_ROWS})
    return repo


def write_geometry3k(root: Path) -> Path:
    repo = root / "geometry3k"
    _write(repo, "data/train-00000-of-00001.parquet", GEOMETRY3K_ROWS, GEOMETRY3K_FEATURES)
    _card(repo, {"default": {"train": "data/train-*"}})
    return repo


def write_scienceqa(root: Path) -> Path:
    repo = root / "ScienceQA"  # no card: the Hub's file-name conventions decide the splits
    _write(repo, "data/train-00000-of-00001-1028f23e353fbe3e.parquet", SCIENCEQA_ROWS, SCIENCEQA_FEATURES)
    _write(repo, "data/validation-00000-of-00001-6c7328ff6c84284c.parquet", SCIENCEQA_ROWS[:1], SCIENCEQA_FEATURES)
    return repo


def write_chartqa(root: Path) -> Path:
    repo = root / "ChartQA"
    _write(repo, "data/train-00000-of-00003-49492f364babfa44.parquet", CHARTQA_ROWS[:1], CHARTQA_FEATURES)
    _write(repo, "data/train-00001-of-00003-7302bae5e425bbc7.parquet", CHARTQA_ROWS[1:], CHARTQA_FEATURES)
    _write(repo, "data/val-00000-of-00001-0f11003c77497969.parquet", CHARTQA_ROWS[:1], CHARTQA_FEATURES)
    _card(repo, {"default": {"train": "data/train-*", "val": "data/val-*"}})
    return repo
