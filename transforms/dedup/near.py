"""Near-duplicate problems: fingerprints → band keys → GroupByKey → verified edges → survivors.

Group keys (image-hash ranges in ``both`` mode, text bands otherwise) are counted first; groups
above ``max_group`` are split (see :mod:`transforms.dedup.candidates`).

Only fingerprints (no image bytes) are shuffled for the search; the problems themselves meet
their survivor in one CoGroupByKey at the end. Dropped rows have reason ``near_duplicate``
and the survivor's id, a problem they were verified against themselves (no chaining, see
:mod:`transforms.dedup.components`).

The guards are counted (Beam counters, namespace ``dedup``): ``blocked_pairs_<guard>`` — pairs
that matched in text, images and answer but not in numbers (``quantities``), option texts
(``options``) or term classes (``terms``) — and ``saved_<guard>`` — kept problems with such a pair to an earlier-ranked
problem, which the guard saved from a drop.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.stages import DEDUP
from transforms.dedup.candidates import band_keys, group_edges, group_keys
from transforms.dedup.components import ResolveSurvivors, survivor_rank
from transforms.dedup.exact import duplicate_row
from transforms.dedup.minhash import Fingerprinter
from transforms.dedup.settings import DedupSettings
from transforms.failures import guarded
from transforms.tags import DROPPED

BY_ID = "by_id"
BLOCKED = "blocked"
GUARDS = ("quantities", "options", "terms")


class _FingerprintFn(beam.DoFn):
    def __init__(self, settings: DedupSettings):
        self._settings = settings

    def setup(self):
        self._fingerprint = Fingerprinter(self._settings.near_text)

    def process(self, problem):
        fp = self._fingerprint(problem, survivor_rank(problem, self._settings.preferred_sources))
        for key in band_keys(fp, self._settings.near_text, self._settings.images):
            yield key, fp
        yield beam.pvalue.TaggedOutput(BY_ID, (problem.id, problem))  # only a fingerprinted problem joins


class _VerifyGroupFn(beam.DoFn):
    """Verified edges of one group; the group sizes (what one worker must hold) go to a metric."""

    def __init__(self, settings: DedupSettings):
        self._settings = settings
        self._sizes = Metrics.distribution(DEDUP.name, "band_group_size")
        self._blocked = {guard: Metrics.counter(DEDUP.name, f"blocked_pairs_{guard}") for guard in GUARDS}

    def process(self, keyed, hot):
        group, members = keyed
        members = list(members)
        self._sizes.update(len(members))
        edges, blocked = group_edges(group, members, self._settings.near_text, self._settings.images, hot)
        yield from edges
        for (_, later), guard in blocked:
            self._blocked[guard].inc()
            yield beam.pvalue.TaggedOutput(BLOCKED, (later[1], guard))


class _ApplyFn(beam.DoFn):
    def __init__(self, detail: str):
        self._detail = detail
        self._dups = Metrics.counter(DEDUP.name, "near_duplicates")
        self._saved = {guard: Metrics.counter(DEDUP.name, f"saved_{guard}") for guard in GUARDS}

    def process(self, keyed):
        _, grouped = keyed
        survivors = list(grouped["survivor"])
        for problem in grouped["problem"]:
            if not survivors:
                for guard in set(grouped[BLOCKED]):
                    self._saved[guard].inc()
                yield problem
                continue
            self._dups.inc()
            yield beam.pvalue.TaggedOutput(DROPPED, duplicate_row(problem, survivors[0][1], "near_duplicate", self._detail))


def describe(settings: DedupSettings) -> str:
    """The dropped rows' detail: what matched, per the configured mode."""
    text = f"question text Jaccard >= {settings.near_text.threshold}"
    image = f"images within {settings.images.hamming} bits"
    t = settings.near_text
    checks = (("answer", t.same_answer), (f"numbers ({t.same_quantities})", t.same_quantities != "off"),
              ("options", t.same_options), ("terms", t.same_terms))
    same = [name for name, on in checks if on]
    guards = f", same {', '.join(same)}" if same else ""
    return {"both": f"{text} and {image}", "either": f"{text} or {image}", "text_only": text}[settings.images.mode] + guards


class NearDedup(beam.PTransform):
    """Problems → problems without near-duplicates (main) and dropped near-duplicates."""

    def __init__(self, settings: DedupSettings):
        super().__init__()
        self._settings = settings

    def expand(self, problems):
        s = self._settings
        fingerprinted = problems | "Fingerprint" >> guarded(DEDUP.name, beam.ParDo(_FingerprintFn(s)).with_outputs(BY_ID, main="keyed"))
        keyed = fingerprinted.keyed
        hot = beam.pvalue.AsDict(
            keyed
            | "BandKeys" >> beam.Keys()
            | "CountBands" >> beam.combiners.Count.PerElement()
            | "HotBands" >> beam.Filter(lambda kv, limit: kv[1] > limit, s.near_text.max_group)
        )
        verified = (
            keyed
            | "SplitHot" >> beam.FlatMap(lambda kv, hot: [(g, kv[1]) for g in group_keys(kv[0], kv[1], hot, s.images)], hot=hot)
            | "GroupByBand" >> beam.GroupByKey()
            | "VerifyPairs" >> beam.ParDo(_VerifyGroupFn(s), hot=hot).with_outputs(BLOCKED, main="edges")
        )
        survivors = (
            verified.edges
            | "Survivors" >> ResolveSurvivors(s.near_text.max_rounds)
            | "ById" >> beam.Map(lambda ns: (ns[0][1], ns[1]))
        )
        return (
            {"problem": fingerprinted[BY_ID], "survivor": survivors, BLOCKED: verified[BLOCKED]}
            | "JoinSurvivors" >> beam.CoGroupByKey()
            | "Apply" >> beam.ParDo(_ApplyFn(describe(s))).with_outputs(DROPPED, main="kept")
        )
