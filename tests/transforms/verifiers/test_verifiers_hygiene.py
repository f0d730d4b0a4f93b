"""Chain hygiene and the finish check (transforms/verifiers/hygiene.py, reply_checks.py): property-based over a
grammar of hostile pieces, plus the configuration and a student tokenizer built here (no network)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.config import ConfigError, parse_config
from transforms.verifiers.hygiene import DEFAULT_TOKENS, ESC, HygieneSettings, hygiene, student_tokens, unescape
from transforms.verifiers.reply_checks import check_chain, finished

QUICK = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEFAULT = hygiene(HygieneSettings())
PATTERN_EXAMPLES = ("<|im_end|>", "<|eot_id|>", "<|start_header_id|>", "<|reserved_special_token_250|>", "<|image_pad|>",
                    "<｜end▁of▁sentence｜>", "<｜Assistant｜>", "<unused42>", "[control_8]", "<row_2_col_3>", "<|end|>")
MARKERS = ("<image>", "<video>", "<audio>", "<Image 2>", "<image_1>", "< IMAGE-3 >", "mmcot-image:ab12")
CONTROLS = ("\x00", "\x07", "\x1b[31m", "\r", "\x7f", "\x85", "\x9b")
PLAIN = ("Count the dots. ", "x < y and [a] ", "<b>bold</b> ", "\\boxed{3} ", "|x| < 2 ", "é漢字🙂 ", "\t", "\n", ESC,
         "\ue01b")
NEAR = ("<", "|", ">", "[", "]", "<think", "im_end", "think>", "image")  # pieces that may join into a token
pieces = st.sampled_from(PLAIN + NEAR + DEFAULT_TOKENS + PATTERN_EXAMPLES + MARKERS + CONTROLS + ("\ud800", "\udfff"))
texts = st.lists(pieces, max_size=12).map("".join)
plain = st.lists(st.sampled_from(PLAIN), max_size=8).map("".join)


@QUICK
@given(texts)
def test_escape_is_reversible_and_leaves_nothing_but_surrogates(text):
    escaped = DEFAULT.escape(text)
    assert unescape(escaped) == text
    assert set(DEFAULT.finds(escaped)) <= {"bad_text"}
    assert ("bad_text" in DEFAULT.finds(text)) == any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@QUICK
@given(plain, st.sampled_from(DEFAULT_TOKENS + PATTERN_EXAMPLES), plain)
def test_every_listed_token_is_found_wherever_it_stands(before, token, after):
    assert "reserved_token" in DEFAULT.finds(before + token + after)


@QUICK
@given(plain, st.sampled_from(MARKERS), st.sampled_from(CONTROLS), plain)
def test_markers_and_control_characters_have_their_own_words(before, marker, control, after):
    assert DEFAULT.finds(before + marker + after + control)[-2:] in (["media_marker", "control_chars"],
                                                                    ["control_chars", "media_marker"])


@QUICK
@given(plain)
def test_plain_text_passes(text):
    assert DEFAULT.finds(text) == []


@QUICK
@given(texts, texts, st.sampled_from(["stop", "length", "content_filter", "tool_calls", "missing", "unknown", "???"]),
       st.sampled_from(["drop", "escape"]))
def test_each_chain_gets_one_result_per_check(reasoning, answer, finish, policy):
    checked = check_chain(reasoning, answer, None, finish, HygieneSettings(policy=policy))
    finds = DEFAULT.finds(reasoning) + DEFAULT.finds(answer)
    assert set(checked.checks) == {"finished", "hygiene"}
    assert checked.checks["finished"] == (finish in ("stop", "length"))
    if policy == "drop" or "bad_text" in finds:
        assert checked.checks["hygiene"] == (not finds) and set(finds) <= set(checked.reasons)
        assert (checked.reasoning, checked.answer_text) == (reasoning, answer)
    else:
        assert checked.checks["hygiene"] and checked.escaped == bool(finds)
        assert DEFAULT.finds(checked.reasoning + checked.answer_text) == []
        assert (unescape(checked.reasoning), unescape(checked.answer_text)) == (reasoning, answer)
    assert len(checked.reasons) == (not checked.checks["finished"]) + (0 if checked.checks["hygiene"] else len(set(finds)))


def test_finish_words_are_bounded():
    assert finished("stop") == (True, "") and finished("length") == (True, "")
    assert finished("content_filter") == (False, "finish_content_filter")
    assert finished(None) == (False, "finish_missing")
    assert finished("<|im_end|> " * 50) == (False, "finish_unknown")


def test_the_settings_are_validated_and_errors_name_the_key():
    base = {"run": {"name": "r", "output_dir": "o"}, "source": {"kind": "jsonl", "path": "p", "name": "s"}}
    for bad, key in (({"policy": "keep"}, "verify.hygiene.policy"), ({"patterns": ["<(unclosed"]}, "verify.hygiene.patterns"),
                     ({"extra_tokens": ["x"]}, "verify.hygiene.extra_tokens"), ({"tokens": ["  "]}, "verify.hygiene.tokens"),
                     ({"colour": 1}, "verify.hygiene.colour")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            parse_config({**base, "verify": {"hygiene": bad}})
    config = parse_config({**base, "verify": {"hygiene": {"policy": "escape", "extra_tokens": ["<|my_end|>", "@@END@@"]}}})
    assert "reserved_token" in hygiene(config.verify.hygiene).finds("a @@END@@ b")
    missing = parse_config({**base, "verify": {"hygiene": {"student_tokenizer": "/nonexistent/tokenizer"}}})
    with pytest.raises(ConfigError, match=r"verify\.hygiene\.student_tokenizer"):
        missing.check_environment()


@pytest.fixture(scope="module")
def student_tokenizer(tmp_path_factory) -> str:
    """A tokenizer built here (a word-level vocabulary with special tokens of its own), saved as a local directory."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "count": 1, "dots": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="<<turn_over>>",
                                   additional_special_tokens=["<<img_slot>>", "§§"])
    path = tmp_path_factory.mktemp("student-tokenizer")
    fast.save_pretrained(path)
    return str(path)


def test_a_named_student_tokenizers_special_tokens_join_the_list(student_tokenizer):
    assert {"<<turn_over>>", "<<img_slot>>", "§§"} <= set(student_tokens(student_tokenizer))
    rules = hygiene(HygieneSettings(student_tokenizer=student_tokenizer))
    for text in ("we count <<turn_over>> dots", "a §§ b", "<<img_slot>>"):
        assert DEFAULT.finds(text) == [] and rules.finds(text) == ["reserved_token"]
        assert rules.finds(rules.escape(text)) == [] and unescape(rules.escape(text)) == text
