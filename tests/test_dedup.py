"""Dedup parts: normalization, keys, shingles, image-hash bands, the exact check, components."""
from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.factories import problem
from transforms.dedup import ExactDedup, NearDedup, exact_key, normalize_text
from transforms.dedup.candidates import group_edges, group_keys, is_near_duplicate
from transforms.dedup.components import ConnectedComponents, propagate, spanning_edges
from transforms.dedup.images import hamming, hash_chunks, images_match
from transforms.dedup.minhash import Fingerprinter, answer_value
from transforms.dedup.settings import DedupSettings, ImageMatchSettings
from transforms.dedup.text import jaccard, shingle_hashes, shingles
from transforms.tags import DROPPED

SETTINGS = DedupSettings()
LONG_Q = "A train leaves the station at noon and travels at sixty kilometres per hour; how far has it gone by three?"


def test_normalize_text_folds_case_spacing_latex_spacing_and_punctuation():
    assert normalize_text("What is  $x\\,+\\;1$ ?\n") == normalize_text("what is $x + 1$?")
    assert normalize_text("Area = 12") != normalize_text("Area = 13")


def test_key_covers_question_choices_and_images():
    base = problem()
    assert exact_key(base) == exact_key(problem(pid="s/2", question="how many DOTS ?"))
    assert exact_key(base) != exact_key(problem(image_hash="cd" * 32))
    assert exact_key(problem(choices=["1", "2"])) != exact_key(problem(choices=["1", "3"]))


def test_duplicates_are_dropped_naming_the_smallest_id_as_survivor():
    rows = [problem(pid="s/3"), problem(pid="s/1", question="How many dots"), problem(pid="s/2"),
            problem(pid="s/9", image_hash="ee" * 32)]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | ExactDedup()
        assert_that(out.kept | beam.Map(lambda pr: pr.id), equal_to(["s/1", "s/9"]), label="kept")
        assert_that(out[DROPPED] | beam.Map(lambda r: (r.row_id, r.reason, r.survivor_id)),
                    equal_to([("s/2", "duplicate", "s/1"), ("s/3", "duplicate", "s/1")]), label="dropped")


def test_a_preferred_source_wins_over_a_smaller_id():
    rows = [problem(pid="a/1", source="a"), problem(pid="z/1", source="z")]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | ExactDedup(preferred_sources=["z"])
        assert_that(out.kept | beam.Map(lambda pr: pr.id), equal_to(["z/1"]))


def test_shingles_are_word_or_char_ngrams_and_short_texts_are_one_shingle():
    assert shingles("The cat sat", "word", 2) == ["cat sat", "the cat"]
    assert shingles("Hi!", "word", 8) == ["hi"]
    assert shingles("abcd", "char", 3) == ["abc", "bcd"]
    a, b = shingle_hashes(LONG_Q, "char", 5), shingle_hashes(LONG_Q.replace("noon", "midday"), "char", 5)
    assert 0.6 < jaccard(a, b) < 1.0
    assert jaccard(a, shingle_hashes("Which fruit has the tallest bar?", "char", 5)) < 0.1


def test_hash_chunks_find_every_pair_within_the_distance():
    rng = random.Random(0)
    for distance in (0, 3, 6):
        for _ in range(200):
            value = rng.getrandbits(64)
            flipped = value
            for bit in rng.sample(range(64), distance):
                flipped ^= 1 << bit
            assert hamming(value, flipped) == distance
            assert set(hash_chunks(value, distance)) & set(hash_chunks(flipped, distance))
    assert not set(hash_chunks(0, 1)) & set(hash_chunks((1 << 64) - 1, 1))


def test_images_match_pairs_lists_one_to_one():
    assert images_match((), (), 4)
    assert images_match((0b1111, 1 << 40), (1 << 40 | 1, 0b0111), 1)
    assert not images_match((0, 0), (0, 0xFF), 4)
    assert not images_match((0,), (0, 0), 4)


def _fp(p, settings=SETTINGS):
    return Fingerprinter(settings.near_text)(p, (0, p.id))


def test_answer_value_reads_the_choice_a_letter_names():
    assert answer_value(problem(answer="B", choices=["7", "Eight"])) == "eight"
    assert answer_value(problem(answer="12 ")) == "12"


def test_near_duplicate_needs_text_images_and_answer_in_both_mode():
    base = _fp(problem(pid="s/1", question=LONG_Q, phash="0f" * 8))
    paraphrase = _fp(problem(pid="s/2", question=LONG_Q.replace("noon", "midday"), phash="0f" * 7 + "0e"))
    other_picture = _fp(problem(pid="s/3", question=LONG_Q, phash="f0" * 8))
    other_answer = _fp(problem(pid="s/4", question=LONG_Q, answer="4", phash="0f" * 8))
    assert is_near_duplicate(base, paraphrase, SETTINGS.near_text, SETTINGS.images)
    assert not is_near_duplicate(base, other_picture, SETTINGS.near_text, SETTINGS.images)
    assert not is_near_duplicate(base, other_answer, SETTINGS.near_text, SETTINGS.images)
    assert is_near_duplicate(base, other_picture, SETTINGS.near_text, ImageMatchSettings(mode="text_only"))
    same_picture = _fp(problem(pid="s/5", question="Name the colour of the dots.", phash="0f" * 8))
    assert is_near_duplicate(base, same_picture, SETTINGS.near_text, ImageMatchSettings(mode="either"))
    assert not is_near_duplicate(base, same_picture, SETTINGS.near_text, SETTINGS.images)


def test_a_band_group_of_templated_text_over_different_pictures_yields_no_edges():
    rng = random.Random(1)
    members = [_fp(problem(pid=f"s/{i}", question=LONG_Q, phash=f"{rng.getrandbits(64):016x}")) for i in range(50)]
    twin = _fp(problem(pid="s/99", question=LONG_Q, phash=f"{members[7].phashes[0] ^ 1:016x}"))
    key = ("t", 0, members[0].bands[0], "3")
    edges = lambda group, fps, hot: group_edges(group, fps, SETTINGS.near_text, SETTINGS.images, hot)  # noqa: E731
    assert edges((key, None), members, {}) == []
    assert edges((key, None), [*members, twin], {}) == [((0, "s/7"), (0, "s/99"))]
    assert edges((("t", 1, members[0].bands[1], "3"), None), [members[7], twin], {}) == []
    # a hot band group is split by image-hash range: the pair is verified once, in the first range they share
    subs = [group_keys(key, fp, {key: 51}, SETTINGS.images) for fp in (members[7], twin)]
    shared = sorted(set(subs[0]) & set(subs[1]))
    assert len(subs[0]) == SETTINGS.images.hamming + 1 and shared[0][1] is not None
    assert [edges(g, [members[7], twin], {key: 51}) for g in shared] == [[((0, "s/7"), (0, "s/99"))]] + [[]] * (len(shared) - 1)


def test_spanning_edges_link_every_node_to_its_components_smallest():
    pairs = [((0, "c"), (0, "d")), ((0, "b"), (0, "c")), ((1, "a"), (0, "e"))]
    assert spanning_edges(pairs) == [((0, "b"), (0, "c")), ((0, "b"), (0, "d")), ((0, "e"), (1, "a"))]


def test_propagate_takes_the_smallest_label_heard():
    node, (label, neighbours), changed = propagate((0, "c"), [("self", (0, "c"), ((0, "d"),)), ("label", (0, "a"))])
    assert (node, label, neighbours, changed) == ((0, "c"), (0, "a"), ((0, "d"),), True)
    assert propagate((0, "a"), [("self", (0, "a"), ())])[2] is False


def test_components_of_a_long_chain_converge_to_one_survivor():
    chain = [((0, f"n{i}"), (0, f"n{i + 1}")) for i in range(6)]
    other = [((0, "x2"), (0, "x1"))]
    expected = [((0, f"n{i}"), (0, "n0")) for i in range(1, 7)] + [((0, "x2"), (0, "x1"))]
    with TestPipeline() as p:
        out = p | beam.Create(chain + other) | ConnectedComponents(max_rounds=6)
        assert_that(out, equal_to(expected))


@pytest.mark.parametrize("max_group", [1000, 2], ids=["whole-groups", "split-groups"])
def test_near_dedup_drops_paraphrases_and_keeps_templated_near_misses(max_group):
    rows = [
        problem(pid="s/2", question=LONG_Q, phash="0f" * 8),
        problem(pid="s/1", question=LONG_Q.upper().replace("NOON", "midday"), phash="0f" * 7 + "1f"),
        problem(pid="s/3", question=LONG_Q.replace("noon", "12:00"), phash="0f" * 8),
        problem(pid="s/4", question=LONG_Q.replace("sixty", "seventy"), answer="210", phash="0f" * 8),
        problem(pid="s/5", question=LONG_Q, phash="f0" * 8),
    ]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | NearDedup(DedupSettings(near_text={"max_group": max_group}))
        assert_that(out.kept | beam.Map(lambda pr: pr.id), equal_to(["s/1", "s/4", "s/5"]), label="kept")
        assert_that(out[DROPPED] | beam.Map(lambda r: (r.row_id, r.reason, r.survivor_id)),
                    equal_to([("s/2", "near_duplicate", "s/1"), ("s/3", "near_duplicate", "s/1")]), label="dropped")
