"""Dedup parts: normalization, keys, shingles, image-hash bands, the exact check, components."""
from __future__ import annotations

import random
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.support.factories import problem
from transforms.dedup import ExactDedup, NearDedup, exact_key, normalize_text
from transforms.dedup.candidates import band_keys, blocking_guard, group_edges, group_keys, is_near_duplicate
from transforms.dedup.components import ResolveSurvivors, greedy_survivors
from transforms.dedup.images import hamming, hash_chunks, images_match
from transforms.dedup.minhash import Fingerprinter, answer_value
from transforms.dedup.quantities import canonical, numbers
from transforms.dedup.settings import DedupSettings, ImageMatchSettings
from transforms.dedup.terms import terms
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
    assert exact_key(problem(question="Is x = -3?")) != exact_key(problem(question="Is x = 3?"))
    assert exact_key(problem(question="Is x 1.5?")) != exact_key(problem(question="Is x 15?"))
    assert exact_key(problem(question="Is x 1,000?")) == exact_key(problem(question="is X 1000"))


@pytest.mark.parametrize("a, b", [
    ("1,000 apples", "1000 apples"), ("1{,}000 or 1\\,000", "1000 or 1000"), ("0.50 kg", ".5 kg"),
    ("\\frac{1}{2}", "0.5"), ("\\dfrac12 of it", "1/2 of it"), ("50% off", "0.5 off"), ("50\\% off", "50 percent off"),
    ("x = -3", "x=\u22123"), ("5 - 3", "5-3"), ("-\\frac{3}{4}", "-0.75"), ("$x^{2}$ at 3.0 m", "x^2 at 3 m"),
])
def test_numbers_are_normalized_to_exact_values(a, b):
    assert numbers(a) == numbers(b)


@pytest.mark.parametrize("a, b", [
    ("x = -3", "x = 3"), ("1.5", "15"), ("0.5", "0.05"), ("1,000", "1.000"), ("\\frac{1}{2}", "\\frac{1}{3}"),
    ("50%", "5%"), ("13 cm by 32 cm", "12 cm by 46 cm"), ("12 wide, 5 tall", "5 wide, 12 tall"),
])
def test_different_numbers_stay_different(a, b):
    assert numbers(a) != numbers(b)


def test_term_classes_survive_rewording_and_tell_different_asks_apart():
    assert terms("Which fruit has the TALLEST bar?") == terms("What fruit has the highest bar") == ("most",)
    assert terms("What is the area of the figure?") != terms("What is the perimeter of the figure?")
    assert terms("How many red circles?") != terms("How many blue circles?")
    assert terms("How many apples in total?") == terms("How many apples altogether?")
    p = lambda q: _fp(problem(question=q, phash="0f" * 8, answer="24"))  # noqa: E731
    area, perimeter = p("What is the area of the figure, in centimetres?"), p("What is the perimeter of the figure, in centimetres?")
    assert blocking_guard(area, perimeter, SETTINGS.near_text) == "terms"
    assert blocking_guard(area, perimeter, SETTINGS.near_text.model_copy(update={"same_terms": False})) is None


def test_canonical_text_keeps_words_and_normalized_numbers():
    assert canonical("0.50 M") == canonical("0.5 m") == "m # 1/2"
    assert canonical("-3") != canonical("3") and canonical("Yes!") == "yes"


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
    assert answer_value(problem(answer="12 ")) == answer_value(problem(answer="12.0")) == "12"


def test_guards_tell_templated_siblings_with_coinciding_answers_apart():
    text = SETTINGS.near_text
    base = _fp(problem(question="A rectangle is 13 cm wide and 32 cm tall. What is its perimeter?", answer="90"))
    sibling = _fp(problem(question="A rectangle is 12 cm wide and 33 cm tall. What is its perimeter?", answer="90"))
    swapped = _fp(problem(question="A rectangle is 32 cm wide and 13 cm tall. What is its perimeter?", answer="90"))
    copy = _fp(problem(question="A RECTANGLE is 13.0 cm wide and 32 cm tall; find its perimeter", answer="90"))
    assert blocking_guard(base, sibling, text) == "quantities" and not is_near_duplicate(base, sibling, text, SETTINGS.images)
    assert blocking_guard(base, swapped, text) == "quantities"
    assert blocking_guard(base, swapped, text.model_copy(update={"same_quantities": "multiset"})) is None
    assert blocking_guard(base, sibling, text.model_copy(update={"same_quantities": "off"})) is None
    assert is_near_duplicate(base, copy, text, SETTINGS.images)
    q = "Which of the numbers under the figure is prime?"
    mc = _fp(problem(question=q, answer="A", choices=["7", "4", "6", "9"]))
    other_options = _fp(problem(question=q, answer="A", choices=["7", "4", "6", "8"]))
    shuffled = _fp(problem(question=q.upper(), answer="C", choices=["9", "6", "7.0", "4"]))
    assert blocking_guard(mc, other_options, text) == "options" and mc.answer == other_options.answer
    assert blocking_guard(mc, shuffled, text) is None and is_near_duplicate(mc, shuffled, text, SETTINGS.images)
    assert blocking_guard(mc, other_options, text.model_copy(update={"same_options": False})) is None


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


def test_groups_are_image_ranges_in_both_mode_and_a_pair_is_checked_once():
    rng = random.Random(1)
    members = [_fp(problem(pid=f"s/{i}", question=LONG_Q, phash=f"{rng.getrandbits(64):016x}")) for i in range(50)]
    twin = _fp(problem(pid="s/99", question=LONG_Q.upper(), phash=f"{members[7].phashes[0] ^ 1:016x}"))
    text, images = SETTINGS.near_text, SETTINGS.images
    keys = [set(band_keys(fp, text, images)) for fp in (members[7], twin)]
    assert len(keys[0]) == images.hamming + 1 and all(k[0] == "i" and k[3] == "3" for k in keys[0])
    shared = sorted(keys[0] & keys[1])
    edges = lambda group, fps, hot: group_edges(group, fps, text, images, hot)[0]  # noqa: E731
    together = [fp for fp in members if shared[0] in band_keys(fp, text, images)]
    assert edges((shared[0], None), [*together, twin], {}) == [((0, "s/7"), (0, "s/99"))]
    assert all(edges((k, None), [members[7], twin], {}) == [] for k in shared[1:])


def test_a_hot_group_behind_one_picture_is_split_by_text_band():
    questions = ["How many boats are on the lake?", "Which season does the photo show?", "Is the water frozen?",
                 "What colour is the tallest mountain?", "Are there clouds above the peaks?", "Where is the sun?",
                 "Count the trees on the left shore.", "Is anybody swimming?", "Name the bird in the sky.",
                 "Does the road cross the bridge?"]
    members = [_fp(problem(pid=f"s/{i}", question=q, phash="0f" * 8)) for i, q in enumerate(questions)]
    twin = _fp(problem(pid="s/99", question=questions[3].lower() + "!", phash="0f" * 8))
    key = band_keys(twin, SETTINGS.near_text, SETTINGS.images)[0]
    hot = {key: 11}
    subs = [set(group_keys(key, fp, hot, SETTINGS.images)) for fp in (members[3], twin)]
    assert len(subs[1]) == len(twin.band_values()) and all(sub is not None for _, sub in subs[1])
    found = [group_edges(g, [m for m in members if g in group_keys(key, m, hot, SETTINGS.images)] + [twin],
                         SETTINGS.near_text, SETTINGS.images, hot)[0] for g in sorted(subs[0] & subs[1])]
    assert found[0] == [((0, "s/3"), (0, "s/99"))] and not any(found[1:])


def test_survivors_do_not_chain_a_to_c_through_b():
    a, b, c, d = ((0, x) for x in "abcd")
    assert greedy_survivors([(a, b), (b, c)]) == {b: a}
    assert greedy_survivors([(b, c), (a, b), (a, c), (c, d)]) == {b: a, c: a}
    assert greedy_survivors([((1, "a"), (0, "z"))]) == {(1, "a"): (0, "z")}


def _random_graph(seed: int, nodes: int, edges: int) -> list[tuple[tuple[int, str], tuple[int, str]]]:
    rng = random.Random(seed)
    names = [(rng.randint(0, 1), f"n{i:02d}") for i in range(nodes)]
    return sorted({tuple(rng.sample(names, 2)) for _ in range(edges)})


@pytest.mark.parametrize("seed", [0, 1])
def test_beam_survivors_follow_the_greedy_rule_and_every_drop_names_a_verified_neighbouring_survivor(seed):
    graph = _random_graph(seed, 30, 45)
    expected = greedy_survivors(graph)
    pairs = {frozenset(e) for e in graph}
    assert all(frozenset((node, survivor)) in pairs and survivor not in expected for node, survivor in expected.items())
    component = {n: {n} for e in graph for n in e}
    for x, y in graph:
        merged = component[x] | component[y]
        for n in merged:
            component[n] = merged
    survivors_per_component = Counter(min(component[n]) for n in component if n not in expected)
    assert max(survivors_per_component.values()) >= 2, "some component must keep several survivors (no chaining)"
    with TestPipeline() as p:
        out = p | beam.Create(graph) | ResolveSurvivors(max_rounds=30)
        assert_that(out, equal_to(sorted(expected.items())))


def test_nodes_left_undecided_by_the_round_limit_are_kept_never_misattributed():
    path = [((0, f"n{i}"), (0, f"n{i + 1}")) for i in range(6)]
    assert greedy_survivors(path) == {(0, "n1"): (0, "n0"), (0, "n3"): (0, "n2"), (0, "n5"): (0, "n4")}
    with TestPipeline() as p:
        out = p | beam.Create(path) | ResolveSurvivors(max_rounds=3)
        assert_that(out, equal_to([((0, "n1"), (0, "n0")), ((0, "n3"), (0, "n2"))]))


@pytest.mark.parametrize("max_group", [1000, 2], ids=["whole-groups", "split-groups"])
def test_near_dedup_drops_paraphrases_and_keeps_templated_near_misses(max_group):
    rows = [
        problem(pid="s/2", question=LONG_Q, phash="0f" * 8),
        problem(pid="s/1", question=LONG_Q.upper().replace("NOON", "midday"), phash="0f" * 7 + "1f"),
        problem(pid="s/3", question=LONG_Q.replace("noon", "twelve"), phash="0f" * 8),
        problem(pid="s/4", question=LONG_Q.replace("sixty", "seventy"), answer="210", phash="0f" * 8),
        problem(pid="s/5", question=LONG_Q, phash="f0" * 8),
        problem(pid="s/6", question=LONG_Q.replace("noon", "12:30"), phash="0f" * 8),
    ]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | NearDedup(DedupSettings(near_text={"max_group": max_group}))
        assert_that(out.kept | beam.Map(lambda pr: pr.id), equal_to(["s/1", "s/4", "s/5", "s/6"]), label="kept")
        assert_that(out[DROPPED] | beam.Map(lambda r: (r.row_id, r.reason, r.survivor_id)),
                    equal_to([("s/2", "near_duplicate", "s/1"), ("s/3", "near_duplicate", "s/1")]), label="dropped")
