"""Cost: tokens counted by a stub server on loopback × the endpoint's prices, in the counters, summary, manifest and card."""
from __future__ import annotations

import dataclasses
import re

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from data_cards.card import render_card
from pipelines.config import load_config
from pipelines.metrics import query_metrics, run_cost
from pipelines.summary import summary_table
from schemas.manifest import Counts, Manifest
from tests.support.factories import PLAN, planned, problem
from tests.support.paths import REPO
from tests.support.rate_limited_stub import RateLimitedStub
from transforms.generate import GenerateChains
from transforms.teachers.cost import PriceSettings
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings

PRICE = PriceSettings(input_per_million=2.5, output_per_million=10.0)


def test_picodollars_are_exact_for_prices_to_six_decimals():
    assert PRICE.picodollars(1_000_000, 0) == 2_500_000_000_000
    assert PriceSettings(input_per_million=0.075, output_per_million=0.000001).picodollars(3, 7) == 3 * 75_000 + 7
    with pytest.raises(ValueError, match="input_per_million"):
        PriceSettings(input_per_million=-1, output_per_million=0)


def _run(endpoint: Endpoint, n_problems: int):
    p = TestPipeline()
    items = [planned(problem(pid=f"s/{i}", question=f"How many dots in {i}?")) for i in range(n_problems)]
    _ = p | beam.Create(items) | GenerateChains(endpoint)
    result = p.run()
    result.wait_until_finish()
    return query_metrics(result, "TestPipeline")


def _manifest(metrics) -> Manifest:
    return Manifest(run_id="r", created_at="now", command="mmcot run", config_hash="h",
                    config=load_config(REPO / "configs" / "sample.yaml").model_dump(mode="json"), versions={},
                    counts=Counts(read=4, kept=0), stats={}, rows={}, shards=[], wall_time_s=1.0, metrics=metrics,
                    cost=run_cost(metrics))


def test_the_cost_is_the_tokens_the_server_counted_times_the_prices_and_a_rerun_shows_the_saving(tmp_path):
    with RateLimitedStub(10**6, 10**9) as stub:
        endpoint = Endpoint(TeacherSettings(base_url=stub.base_url, model="stub-priced", price=PRICE), str(tmp_path / "c"))
        first = _run(endpoint, 4)
        served = dict(stub.counts)
        second = _run(endpoint, 4)
    assert served["served"] == 4 and served["samples"] == 4 * PLAN.n  # a problem's samples in one request
    assert stub.counts["served"] == served["served"]  # the rerun sent nothing
    dollars = served["prompt_tokens"] * 2.5 / 1e6 + served["completion_tokens"] * 10.0 / 1e6
    paid, saved = run_cost(first), run_cost(second)
    assert paid.cost_usd == pytest.approx(dollars, rel=1e-12) and paid.cache_saved_usd == 0
    assert saved.cost_usd == 0 and saved.cache_saved_usd == pytest.approx(dollars, rel=1e-12)
    assert saved.stages["generate"].cached_tokens_in == served["prompt_tokens"]
    assert saved.stages["generate"].cached_tokens_out == served["completion_tokens"]

    manifest = _manifest(first)
    assert Manifest.from_json(manifest.to_json()).cost == paid
    assert re.search(rf"cost of new calls / saved by cache +\${dollars:.6f} / \$0\.000000\n", summary_table(manifest))
    card = render_card(manifest, [], [])
    assert f"- Cost at the configured prices: ${dollars:.6f} for new teacher calls (generate ${dollars:.6f}); " \
           "the response cache saved $0.000000." in card


def test_a_run_without_prices_shows_no_cost(tmp_path):
    with RateLimitedStub(10**6, 10**9) as stub:
        metrics = _run(Endpoint(TeacherSettings(base_url=stub.base_url, model="stub-free"), str(tmp_path / "c")), 1)
    manifest = _manifest(metrics)
    assert manifest.cost is None and "cost" not in summary_table(manifest) and "Cost" not in render_card(manifest, [], [])
    assert "cost" not in summary_table(dataclasses.replace(manifest, metrics=None))
