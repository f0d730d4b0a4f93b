"""Every problem of a run as the report shows it, joined by id across the output sets.

Two levels: :func:`problem_index` reads the light columns of every problem (what the filters and
the search need), :func:`problem_details` reads everything about some problems (their images,
question, gold answer, scores and chains). Columns are read by name and a missing one is left
empty, so older outputs and columns other branches add (judge scores, ``unverifiable`` verdicts,
a ``problems`` set) both work; a column the report does not know is shown as it is.
"""
from __future__ import annotations

import base64
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from PIL import Image, UnidentifiedImageError

from data_cards.report.shards import PROBLEM_KEYS, OutputShards

REJECT_SETS = {"dropped": "dropped", "dead_letter": "dead-lettered"}  # set -> outcome
#: Assessment fields shown as the problem's scores, wherever they are found (a top-level column or an ``assessment`` struct).
SCORE_FIELDS = ("difficulty_source", "clarity", "vision_score", "text_score", "integration_score", "S_v", "S_t", "S_I",
                "quality", "judge_model", "rationale", "judge_error")
CHAIN_FIELDS = {"problem_id", "teacher", "sample_index", "content", "reasoning", "answer_text", "finish_reason",
                "prompt_tokens", "completion_tokens", "latency_s", "sampling", "difficulty", "cache_key", "cached",
                "provenance", "verdict", "duplicate_of", "assessment", *SCORE_FIELDS}
FILTERS = ("band", "outcome", "reason", "source")
MAX_IMAGE_SIDE = 512
INLINE_IMAGE_BYTES = 96_000

INDEX_COLUMNS = {
    "generations": ["problem_id", "sampling", "difficulty", "verdict", "provenance"],
    "sft": ["id", "source", "difficulty", "pass_rate", "messages"],
    "rl": ["data_source", "prompt", "extra_info"],
    "preference": ["id", "prompt"],
    "dropped": ["row_id", "source", "stage", "reason", "payload"],
    "dead_letter": ["row_id", "source", "stage", "reason", "payload"],
    "problems": ["id", "source", "question", "difficulty"],
}


def _key(name: str, row: dict) -> str:
    value: Any = row
    for part in PROBLEM_KEYS[name].split("."):
        value = (value or {}).get(part)
    return value


def _rows_by_problem(shards: OutputShards, columns: dict[str, list[str] | None], ids: list[str] | None):
    """set name -> problem id -> its rows (only sets and columns that exist)."""
    grouped: dict[str, dict[str, list[dict]]] = {}
    for name, cols in columns.items():
        by_id = defaultdict(list)
        for row in shards.read(name, cols, ids).to_pylist():
            by_id[_key(name, row)].append(row)
        grouped[name] = by_id
    return grouped


def _first_user_text(messages: list[dict] | None) -> str | None:
    return next((m.get("content") for m in messages or [] if m.get("role") == "user"), None)


def _first(*values):
    return next((v for v in values if v not in (None, "", [])), None)


def _is_correct(chain: dict) -> bool:
    return bool((chain.get("verdict") or {}).get("correct"))


def _payload(reject: dict) -> dict:
    """A reject row's ``payload`` when it is a JSON object (a stage may store the problem there), else {}."""
    try:
        value = json.loads(reject.get("payload") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _entry(pid: str, rows: dict[str, dict[str, list[dict]]]) -> dict:
    """The light facts of one problem: what the filters, the search and the list header need."""
    get = {name: rows[name].get(pid, []) for name in rows}
    sft, rl, pref, prob = (next(iter(get.get(n, [])), {}) for n in ("sft", "rl", "preference", "problems"))
    chains = get.get("generations", [])
    sampled = [c for c in chains if (c.get("provenance") or "teacher") == "teacher"]
    reject, outcome = next(((r[0], REJECT_SETS[n]) for n, r in get.items() if n in REJECT_SETS and r), ({}, None))
    if sft:
        outcome = "kept"
    band = _first(*((c.get("sampling") or {}).get("band") for c in chains))
    pass_rate = _first(sft.get("pass_rate"), (rl.get("extra_info") or {}).get("pass_rate"),
                       sum(map(_is_correct, sampled)) / len(sampled) if sampled else None)
    return {
        "id": pid,
        "source": _first(prob.get("source"), sft.get("source"), rl.get("data_source"), reject.get("source"), pid.split("/")[0]),
        "band": band or "",
        "difficulty": _first(prob.get("difficulty"), sft.get("difficulty"), *(c.get("difficulty") for c in chains)),
        "outcome": outcome or "unaccounted",
        "reason": f"{reject['stage']}/{reject['reason']}" if reject and not sft else "",
        "question": _first(prob.get("question"), _first_user_text(rl.get("prompt")), _first_user_text(pref.get("prompt")),
                           _first_user_text(sft.get("messages")), _payload(reject).get("question")) or "",
        "pass_rate": pass_rate,
        "n_chains": len(sampled),
        "n_correct": sum(map(_is_correct, sampled)),
    }


def _all_ids(rows: dict[str, dict[str, list[dict]]]) -> list[str]:
    return sorted({pid for by_id in rows.values() for pid in by_id if pid is not None})


def problem_index(shards: OutputShards) -> list[dict]:
    """One light entry per problem id found in any output set, sorted by id."""
    rows = _rows_by_problem(shards, INDEX_COLUMNS, None)
    return [_entry(pid, rows) for pid in _all_ids(rows)]


def matches(entry: dict, filters: dict[str, str]) -> bool:
    """Whether an index entry passes the filters (exact on :data:`FILTERS`, ``q``: a substring of question or id)."""
    if any(filters.get(f) and entry[f] != filters[f] for f in FILTERS):
        return False
    q = (filters.get("q") or "").lower()
    return not q or q in entry["question"].lower() or q in entry["id"].lower()


def facets(index: Iterable[dict]) -> dict[str, dict[str, int]]:
    """Value -> problem count for every filter."""
    counts: dict[str, dict[str, int]] = {f: defaultdict(int) for f in FILTERS}
    for entry in index:
        for f in FILTERS:
            if entry[f]:
                counts[f][entry[f]] += 1
    return {f: dict(sorted(c.items())) for f, c in counts.items()}


def image_view(image: dict | None) -> dict:
    """An image struct (``{bytes, path}``) as a data URL, scaled to :data:`MAX_IMAGE_SIDE` when large."""
    data, path = (image or {}).get("bytes"), (image or {}).get("path")
    if not data:
        return {"path": path, "error": "no image bytes stored"}
    try:
        img = Image.open(io.BytesIO(data))
        size, fmt = img.size, (img.format or "PNG").upper()
        if len(data) > INLINE_IMAGE_BYTES or max(size) > MAX_IMAGE_SIDE or fmt not in ("PNG", "JPEG", "GIF", "WEBP"):
            img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
            img.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            buf = io.BytesIO()
            img.save(buf, format="WEBP", quality=80)
            data, fmt = buf.getvalue(), "WEBP"
    except (UnidentifiedImageError, OSError) as exc:
        return {"path": path, "error": f"undecodable image: {exc}"}
    return {"path": path, "width": size[0], "height": size[1],
            "src": f"data:image/{fmt.lower()};base64,{base64.b64encode(data).decode()}"}


def _shown(value: Any) -> Any:
    """A column value the report does not know, as JSON-safe display data."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _verdict(verdict: dict | None) -> dict:
    if verdict is None:
        return {"status": "unverified", "checks": {}, "reasons": []}
    unverifiable = verdict.get("unverifiable") or verdict.get("status") == "unverifiable"
    return {
        "status": "unverifiable" if unverifiable else "correct" if verdict.get("correct") else "wrong",
        "extracted_answer": verdict.get("extracted_answer"),
        "checks": {k: v for k, v in (verdict.get("checks") or {}).items() if v is not None},
        "reasons": list(verdict.get("reasons") or []),
        "extra": _shown({k: v for k, v in verdict.items()
                         if k not in ("correct", "extracted_answer", "checks", "reasons", "unverifiable", "status")}),
    }


def _chain(row: dict, kept: bool) -> dict:
    return {
        "sample_index": row.get("sample_index"), "provenance": row.get("provenance") or "teacher",
        "duplicate_of": row.get("duplicate_of"), "teacher": row.get("teacher"), "finish_reason": row.get("finish_reason"),
        "prompt_tokens": row.get("prompt_tokens"), "completion_tokens": row.get("completion_tokens"),
        "latency_s": row.get("latency_s"), "cached": row.get("cached"), "plan": row.get("sampling") or {},
        "verdict": _verdict(row.get("verdict")), "reasoning": row.get("reasoning") or "",
        "answer_text": row.get("answer_text") or row.get("content") or "", "kept": kept,
        "extra": _shown({k: v for k, v in row.items() if k not in CHAIN_FIELDS and v is not None}),
    }


def _kept_index(chains: list[dict], sft: dict) -> int | None:
    """Which chain the SFT row holds: its recorded sample index if any, else the chain whose text and length it carries."""
    if not sft:
        return None
    recorded = _first(sft.get("sample_index"), sft.get("kept_sample_index"))
    if recorded is not None:
        return next((i for i, c in enumerate(chains) if c.get("sample_index") == recorded), None)
    text = next((m.get("content") or "" for m in sft.get("messages") or [] if m.get("role") == "assistant"), "")
    same_length = [i for i, c in enumerate(chains) if c.get("completion_tokens") == sft.get("completion_tokens")]
    return min(same_length, default=None, key=lambda i: (
        (chains[i].get("reasoning") or chains[i].get("answer_text") or "\0") not in text, not _is_correct(chains[i])))


def _scores(*rows: dict) -> dict:
    found: dict[str, Any] = {}
    for row in rows:
        for source in (row, row.get("assessment") or {}):
            for name in SCORE_FIELDS:
                if source.get(name) is not None:
                    found.setdefault(name, source[name])
    return found


def _details(entry: dict, get: dict[str, list[dict]]) -> dict:
    sft, rl, pref, prob = (next(iter(get.get(n, [])), {}) for n in ("sft", "rl", "preference", "problems"))
    reject = next((r[0] for n, r in get.items() if n in REJECT_SETS and r), {})
    chains = sorted(get.get("generations", []), key=lambda c: (c.get("provenance") == "repair", c.get("sample_index") or 0))
    kept = _kept_index(chains, sft)
    images = _first(prob.get("images"), sft.get("images"), rl.get("images"), pref.get("images")) or []
    info = rl.get("extra_info") or {}
    facts = {k: prob.get(k) for k in ("split", "subject", "unit", "caption", "metadata") if prob.get(k)}
    if reject.get("payload"):
        facts["payload"] = reject["payload"]
    return {
        **entry,
        "images": [image_view(i) for i in images],
        "choices": _first(prob.get("choices"), info.get("choices")) or [],
        "answer": _first(prob.get("answer"), sft.get("answer"), (rl.get("reward_model") or {}).get("ground_truth")),
        "answer_type": _first(prob.get("answer_type"), sft.get("answer_type"), info.get("answer_type")),
        "facts": facts,
        "scores": _scores(prob, sft, *chains),
        "selection": sft.get("selection"),
        "detail": reject.get("detail") or "",
        "survivor_id": reject.get("survivor_id"),
        "in_rl": bool(rl),
        "preference_pairs": [p.get("rejected_reason") for p in get.get("preference", [])],
        "chains": [_chain(c, i == kept) for i, c in enumerate(chains)],
    }


def problem_details(shards: OutputShards, index: list[dict], ids: list[str] | None = None) -> list[dict]:
    """Full records of problems ``ids`` (all of ``index`` when None), in the index's order."""
    columns = {name: None for name in INDEX_COLUMNS}
    rows = _rows_by_problem(shards, columns, ids)
    wanted = None if ids is None else set(ids)
    return [_details(e, {n: rows[n].get(e["id"], []) for n in rows}) for e in index if wanted is None or e["id"] in wanted]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """JSON (NaN and infinities as null) safe inside a ``<script>`` element: every ``<`` is escaped."""
    return json.dumps(_finite(value), ensure_ascii=False, default=str).replace("<", "\\u003c")

