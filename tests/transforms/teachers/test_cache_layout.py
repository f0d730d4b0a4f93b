"""The response cache's ``problem`` layout: one object per prompt, every sample durable when paid, old caches readable."""
from __future__ import annotations

import concurrent.futures
import json

import pytest
from pydantic import ValidationError

from tests.support.factories import PLAN
from transforms.teachers.cache import ResponseCache, group_key, request_key
from transforms.teachers.settings import TeacherSettings

MESSAGES = [{"role": "user", "content": "How many dots?"}]


def _keys(n: int, messages=MESSAGES) -> tuple[str, list[str]]:
    return group_key("m", messages, PLAN), [request_key("m", messages, PLAN, k) for k in range(n)]


def _objects(root) -> list:
    return sorted(p for p in root.rglob("*.json"))


def test_a_problems_samples_share_one_object_and_each_is_durable_when_put(tmp_path):
    group, keys = _keys(3)
    writer = ResponseCache(str(tmp_path / "c"), "problem")
    for k, key in enumerate(keys):
        writer.put(key, {"content": str(k)}, group)
        fresh = ResponseCache(str(tmp_path / "c"), "problem")  # a run killed right after this put
        assert [fresh.get(x, group) for x in keys[:k + 1]] == [{"content": str(i)} for i in range(k + 1)]
        assert fresh.get(keys[-1], group) is None or k == len(keys) - 1
    (only,) = _objects(tmp_path / "c")
    assert set(json.loads(only.read_text())["entries"]) == set(keys)
    other_group, other = _keys(1, [{"role": "user", "content": "How many squares?"}])
    assert ResponseCache(str(tmp_path / "c"), "problem").get(other[0], other_group) is None


def test_entries_written_per_sample_stay_readable_under_the_problem_layout(tmp_path):
    group, keys = _keys(2)
    ResponseCache(str(tmp_path / "c")).put(keys[0], {"content": "old"})
    grouped = ResponseCache(str(tmp_path / "c"), "problem")
    assert grouped.get(keys[0], group) == {"content": "old"}
    grouped.put(keys[1], {"content": "new"}, group)
    again = ResponseCache(str(tmp_path / "c"), "problem")
    assert [again.get(k, group) for k in keys] == [{"content": "old"}, {"content": "new"}]
    assert ResponseCache(str(tmp_path / "c")).get(keys[1]) is None  # the sample layout does not read groups


def test_concurrent_puts_to_one_group_lose_no_sample(tmp_path):
    group, keys = _keys(32)
    cache = ResponseCache(str(tmp_path / "c"), "problem")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: cache.put(kv[1], {"content": str(kv[0])}, group), enumerate(keys)))
    fresh = ResponseCache(str(tmp_path / "c"), "problem")
    assert [fresh.get(k, group) for k in keys] == [{"content": str(i)} for i in range(32)]


def test_an_unreadable_group_is_a_miss_and_the_next_put_replaces_it(tmp_path):
    group, keys = _keys(1)
    cache = ResponseCache(str(tmp_path / "c"), "problem")
    cache.put(keys[0], {"content": "x"}, group)
    (path,) = _objects(tmp_path / "c")
    path.write_text("{torn")
    fresh = ResponseCache(str(tmp_path / "c"), "problem")
    assert fresh.get(keys[0], group) is None
    fresh.put(keys[0], {"content": "y"}, group)
    assert ResponseCache(str(tmp_path / "c"), "problem").get(keys[0], group) == {"content": "y"}


def test_the_layout_is_validated():
    with pytest.raises(ValueError, match="layout"):
        ResponseCache("/tmp/x", "bundle")
    with pytest.raises(ValidationError, match="cache_layout"):
        TeacherSettings(cache_layout="bundle")
