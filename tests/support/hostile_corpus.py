"""A hostile corpus: bad rows and files of every class mixed with good ones, each with its expected end.

``build(tmp, port)`` writes, under ``tmp``:

- ``data/`` — the dataset root: ``problems.jsonl`` (+ ``images/``), ``problems_broken.jsonl.gz``
  (not gzip), ``problems.parquet``, ``broken.parquet`` (truncated), ``notparquet.parquet`` (text);
  ``images/`` also holds a file symlink and a directory symlink leading out, a ``/dev/zero`` link,
  a FIFO, a decompression bomb and a truncated PNG;
- ``outside/`` — files no run may open (a valid PNG among them, so a row that reached it would
  be *kept*, not merely fail);

and returns the expected ``(row_id, outcome, reason)`` of every row, per layout. ``port`` is a
loopback listener the URL rows point at (it must never be contacted).
"""
from __future__ import annotations

import io
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from transforms.synth import generate
from transforms.synth.writers import PARQUET_SCHEMA, png_bytes

SOURCE = "hostile"
KEPT, DEAD, DROPPED = "kept", "dead_letter", "dropped"
Expected = list[tuple[str, str, str]]  # (row id, outcome, reason)


@dataclass
class Corpus:
    root: Path
    outside: Path
    jsonl_glob: str
    parquet_glob: str
    jsonl: Expected
    parquet: Expected


def _bomb_png() -> bytes:
    """A small file that decodes to 64 M pixels (above the default 50 M ``max_pixels``)."""
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, format="PNG")
    return out.getvalue()


def _outside(tmp: Path) -> Path:
    outside = tmp / "outside"
    outside.mkdir()
    Image.new("RGB", (64, 64), (0, 128, 255)).save(outside / "secret.png")
    (outside / "sentinel.txt").write_text("never read me\n")
    return outside


def _images(root: Path, outside: Path) -> None:
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    (images / "evil_link.png").symlink_to(outside / "secret.png")
    (images / "evil_dir").symlink_to(outside, target_is_directory=True)
    (images / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(images / "pipe.png")
    (images / "bomb.png").write_bytes(_bomb_png())
    good = png_bytes(next(generate(1, 99)))
    (images / "corrupt.png").write_bytes(good[: len(good) // 2])


def _base(problem, image: Any) -> dict[str, Any]:
    return {"id": problem.id, "question": problem.question, "images": image, "choices": problem.choices,
            "answer": problem.answer, "answer_type": problem.answer_type, "subject": problem.subject,
            "caption": problem.caption, "metadata": problem.metadata}


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        node = {"k": node}
    return node


def _jsonl(root: Path, outside: Path, port: int) -> Expected:
    problems = list(generate(40, 7))
    images = root / "images"
    for p in problems:
        p.image.save(images / f"{p.id}.png")
    pool = iter(problems)

    def row(local_id: str, **changes) -> dict[str, Any]:
        p = next(pool)
        base = _base(p, [f"images/{p.id}.png"])
        base["id"] = local_id
        base.update(changes)
        return {k: v for k, v in base.items() if v is not ...}

    lines: list[str] = []
    expected: Expected = []

    def add(line: str, local_id: str | None, outcome: str, reason: str) -> None:
        lines.append(line)
        expected.append((f"{SOURCE}/{local_id if local_id else f'problems:{len(lines)}'}", outcome, reason))

    def case(local_id: str, outcome: str, reason: str, **changes) -> None:
        add(json.dumps(row(local_id, **changes)), local_id, outcome, reason)

    add("\ufeff" + json.dumps(row("bom")), "bom", KEPT, "")
    for i in range(6):
        case(f"good{i}", KEPT, "")
    case("surrogate", KEPT, "", question="Lone \ud800 surrogate: " + problems[30].question)
    case("control", KEPT, "", question="Bell \x07 and escape \x1b[31m: " + problems[31].question)
    case("choices_json", KEPT, "", choices=json.dumps(["1", "2", "3", "4"]), answer="B", answer_type="multiple_choice")
    case("choices_str", DEAD, "wrong_type", choices="A, B, C", answer="A", answer_type="multiple_choice")
    case("choices_30", DEAD, "too_many_choices", choices=[f"option {i}" for i in range(30)], answer="A",
         answer_type="multiple_choice")
    base = json.dumps(row("bigint"))
    add(base[:-1] + ', "answer": 1' + "7" * 5000 + "}", None, DEAD, "number_too_long")
    case("bigint64", DEAD, "number_out_of_range", answer=10**30)
    add('{"id": "deep", "question": "q", "answer": "1", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}",
        None, DEAD, "nested_too_deep")
    case("deep_meta", DEAD, "nested_too_deep", metadata=_nested(40))
    add('{"id": "nan", "question": "q?", "answer": NaN, "images": []}', None, DEAD, "bad_number")
    case("huge_q", DEAD, "question_too_long", question="x" * 10_000_000)
    case("random_q", DEAD, "question_too_long",
         question="".join(random.Random(0).choices("abcdefghij klmnopqrstuvwxyz0123456789", k=1_000_000)))
    case("big_meta", DEAD, "metadata_too_large", metadata={"blob": "y" * 100_000})
    case("many_images", DEAD, "too_many_images", images=[f"images/{problems[0].id}.png"] * 17)
    add(json.dumps(row("x", id={"not": "an id"})), None, DEAD, "bad_id")
    case("bool_answer", DEAD, "wrong_type", answer=True)
    case("missing_answer", DEAD, "missing_answer", answer=...)
    case("str_bytes", DEAD, "wrong_type", images=[{"bytes": "iVBORw0KGgo=", "path": "images/x.png"}])
    case("nul_path", DEAD, "bad_path", images=["images/a\x00.png"])
    case("dotdot", DEAD, "path_outside_root", images=["../outside/secret.png"])
    case("dotdot_deep", DEAD, "path_outside_root", images=["images/../../outside/secret.png"])
    case("absolute", DEAD, "path_outside_root", images=[str(outside / "secret.png")])
    case("link_file", DEAD, "path_outside_root", images=["images/evil_link.png"])
    case("link_dir", DEAD, "path_outside_root", images=["images/evil_dir/secret.png"])
    case("dev_zero", DEAD, "path_outside_root", images=["images/zero.png"])
    case("fifo", DEAD, "not_a_file", images=["images/pipe.png"])
    case("url_http", DEAD, "remote_image", images=[f"http://127.0.0.1:{port}/a.png"])
    case("url_file", DEAD, "remote_image", images=[f"file://{outside}/secret.png"])
    case("unc", DEAD, "path_outside_root", images=[f"//127.0.0.1:{port}/share/a.png"])
    case("bomb", DEAD, "decompression_bomb", images=["images/bomb.png"])
    case("corrupt", DEAD, "unreadable_image", images=["images/corrupt.png"])
    case("missing_img", DEAD, "missing_image", images=["images/nope.png"])
    case("dup", KEPT, "")
    case("dup", DEAD, "duplicate_id")
    add("{not json", None, DEAD, "malformed_row")
    add("[1, 2]", None, DEAD, "malformed_row")
    (root / "problems.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    (root / "problems_broken.jsonl.gz").write_bytes(b"this is not gzip data\n" * 10)
    expected.append((f"{SOURCE}/problems_broken.jsonl.gz", DEAD, "unreadable_file"))
    return expected


def _parquet(root: Path, outside: Path) -> Expected:
    problems = iter(generate(20, 11))
    rows: list[dict[str, Any]] = []
    expected: Expected = []

    def case(local_id: str, outcome: str, reason: str, image: Any = None, **changes) -> None:
        p = next(problems)
        r = _base(p, [image or {"bytes": png_bytes(p), "path": f"{p.id}.png"}])
        r.update(id=local_id, metadata=json.dumps(r["metadata"]), **changes)
        rows.append(r)
        expected.append((f"{SOURCE}/{local_id}", outcome, reason))

    for i in range(6):
        case(f"pgood{i}", KEPT, "")
    secret = str(outside / "secret.png")
    case("bytes_with_outside_path", KEPT, "", image={"bytes": png_bytes(next(generate(1, 12))), "path": secret})
    case("garbage_bytes_outside_path", DEAD, "unreadable_image", image={"bytes": b"garbage", "path": secret})
    case("empty_bytes_outside_path", DEAD, "unreadable_image", image={"bytes": b"", "path": "../outside/secret.png"})
    case("path_only_outside", DEAD, "path_outside_root", image={"bytes": None, "path": "../outside/secret.png"})
    case("bomb_bytes", DEAD, "decompression_bomb", image={"bytes": _bomb_png(), "path": "bomb.png"})
    case("huge_q", DEAD, "question_too_long", question="z" * 10_000_000)
    case("choices_30", DEAD, "too_many_choices", choices=[f"c{i}" for i in range(30)], answer="A",
         answer_type="multiple_choice")
    case("missing_answer", DEAD, "missing_answer", answer=None)
    case("pdup", KEPT, "")
    case("pdup", DEAD, "duplicate_id")
    pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), root / "problems.parquet")
    good = (root / "problems.parquet").read_bytes()
    (root / "broken.parquet").write_bytes(good[: len(good) // 2])
    (root / "notparquet.parquet").write_text("just text, no magic bytes\n")
    expected += [(f"{SOURCE}/broken.parquet", DEAD, "unreadable_file"), (f"{SOURCE}/notparquet.parquet", DEAD, "unreadable_file")]
    return expected


def build(tmp: Path, port: int) -> Corpus:
    """Write the corpus under ``tmp`` (see the module docstring)."""
    root = tmp / "data"
    outside = _outside(tmp)
    _images(root, outside)
    return Corpus(root=root, outside=outside, jsonl_glob=str(root / "problems*.jsonl*"),
                  parquet_glob=str(root / "*.parquet"), jsonl=_jsonl(root, outside, port), parquet=_parquet(root, outside))
