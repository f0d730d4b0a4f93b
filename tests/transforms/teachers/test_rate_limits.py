"""Rate limits per endpoint: the limiter's buckets, and Generate against the rate-limited stub server on loopback.

The stub refuses (429) above its requests and tokens per minute; a run configured with the same
limits stays under both with no refusal, paced by the limiter whose waits reach the stage's
counters and the summary, while the same run without limits is refused.
"""
from __future__ import annotations

import asyncio
import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.metrics import query_metrics
from pipelines.summary import teacher_call_rows
from tests.support.factories import PLAN, planned, problem
from tests.support.rate_limited_stub import RateLimitedStub
from transforms.generate import GenerateChains
from transforms.teachers.rate_limit import Bucket, RateLimiter, RateLimitSettings, estimate_tokens, shared_limiter
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings

RPM, TPM = 300, 12_000  # 5 requests/s, 200 tokens/s
PROBLEMS = 6


def test_a_bucket_makes_a_taker_wait_off_its_debt_and_a_refund_shortens_the_wait():
    bucket = Bucket(rate=100.0, capacity=50.0)
    assert bucket.shortfall(50) == 0.0
    bucket.take(80)  # an overdraw: 30 units of debt
    assert 0.79 < bucket.shortfall(50) <= 0.8
    assert 0.79 < bucket.shortfall(500) <= 0.8  # more than a full bucket waits for a full one
    bucket.take(-60)  # the call used 60 fewer than it took
    assert 0.19 < bucket.shortfall(50) <= 0.2
    bucket.take(-1000)
    bucket.take(50)
    assert bucket.shortfall(1) > 0.009  # refunds fill it no further than full


def test_a_refund_lets_a_waiting_call_go_before_its_estimate_would_have():
    limiter = RateLimiter(RateLimitSettings(tokens_per_minute=6000, burst_s=1.0))  # 100 tokens/s, 100 at once

    async def two_calls() -> float:
        assert await limiter.acquire(100) == 0.0
        waiting = asyncio.create_task(limiter.acquire(100))  # would wait ~1 s on the estimate
        await asyncio.sleep(0.1)
        limiter.correct(estimated=100, used=10)  # the first call used 10
        started = time.monotonic()
        await waiting
        return time.monotonic() - started

    assert asyncio.run(two_calls()) < 0.5


def test_the_estimate_counts_text_images_and_the_completion_budget():
    settings = RateLimitSettings(tokens_per_minute=1000, chars_per_token=4, tokens_per_image=700)
    messages = [{"role": "system", "content": "x" * 40},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}},
                                             {"type": "text", "text": "y" * 80}]}]
    assert estimate_tokens(messages, 64, settings) == 10 + 20 + 700 + 64


def test_a_worker_gets_its_share_and_sections_calling_one_model_share_one_limiter():
    settings = RateLimitSettings(requests_per_minute=600, workers=4)
    assert RateLimiter(settings)._requests.rate == 600 / 60 / 4
    one = shared_limiter("openai", "http://h/v1", "m", settings)
    assert shared_limiter("openai", "http://h/v1", "m", settings) is one
    assert shared_limiter("openai", "http://h/v1", "other", settings) is not one
    assert shared_limiter("openai", "http://h/v1", "m", RateLimitSettings()) is None


def _generate(base_url: str, tmp_path, rate_limit: RateLimitSettings | None, samples_per_request: int = 16):
    settings = TeacherSettings(base_url=base_url, model=f"stub-{time.monotonic_ns()}", max_in_flight=32,
                               max_attempts=8, max_backoff_s=2, rate_limit=rate_limit,
                               samples_per_request=samples_per_request)
    p = TestPipeline()
    items = [planned(problem(pid=f"s/{i}", question=f"How many dots are in picture {i}?")) for i in range(PROBLEMS)]
    _ = p | beam.Create(items) | GenerateChains(Endpoint(settings, str(tmp_path / "cache")))
    result = p.run()
    result.wait_until_finish()
    return query_metrics(result, "TestPipeline").stages["generate"].counters


@pytest.mark.parametrize("per_request", [1, PLAN.n])
def test_a_limited_run_stays_under_both_limits_with_no_429_and_reports_its_waits(tmp_path, per_request):
    """One request per sample, or a problem's samples in one request (charged ``n`` times ``max_tokens``)."""
    with RateLimitedStub(RPM, TPM, burst_s=2.0) as stub:
        counters = _generate(stub.base_url, tmp_path, RateLimitSettings(requests_per_minute=RPM, tokens_per_minute=TPM),
                             per_request)
    requests = PROBLEMS * PLAN.n // per_request
    assert stub.counts["refused_429"] == 0 and stub.counts["samples"] == PROBLEMS * PLAN.n
    assert stub.counts["served"] == requests and counters["requests"] == requests and counters.get("retries", 0) == 0
    used = stub.counts["prompt_tokens"] + stub.counts["completion_tokens"]
    assert counters["tokens_in"] + counters["tokens_out"] == used
    # paced by the tokens the stub counted: less than one second's worth may go at once
    assert stub.arrivals[-1] - stub.arrivals[0] >= (used - TPM / 60) / (TPM / 60) * 0.9
    assert counters["rate_limited"] > 0 and counters["rate_limit_wait_ms"] > 1000
    rows = dict(teacher_call_rows({"generate": counters}))
    assert rows["waiting on rate limits"] == (f"{counters['rate_limit_wait_ms'] / 1000:.1f} s summed over "
                                              f"{counters['rate_limited']} requests")


def test_the_same_run_without_limits_is_refused_by_the_stub(tmp_path):
    with RateLimitedStub(RPM, TPM, burst_s=2.0) as stub:
        counters = _generate(stub.base_url, tmp_path, None)
    assert stub.counts["refused_429"] > 0 and counters["retries"] > 0
    assert "rate_limited" not in counters


def test_the_runner_states_its_workers_and_a_section_without_a_count_gets_it():
    from pipelines.endpoints import with_workers
    from pipelines.runners import parse_options, worker_processes

    assert worker_processes(parse_options(["--runner", "direct-mp", "--direct_num_workers=3"])) == 3
    assert worker_processes(parse_options(["--runner", "direct"])) == 1
    assert worker_processes(parse_options(["--runner", "portable"])) == 1
    assert worker_processes(parse_options(["--runner", "flink", "--flink_master=h:8081", "--parallelism=8"])) == 8
    assert worker_processes(parse_options(["--runner", "flink", "--flink_master=h:8081"])) is None
    limited = TeacherSettings(rate_limit=RateLimitSettings(requests_per_minute=60))
    assert with_workers(limited, "judge.endpoint", 3).rate_limit.workers == 3
    assert with_workers(limited, "judge.endpoint", None).rate_limit.workers == 1
    fixed = TeacherSettings(rate_limit=RateLimitSettings(requests_per_minute=60, workers=5))
    assert with_workers(fixed, "teacher", 3).rate_limit.workers == 5
