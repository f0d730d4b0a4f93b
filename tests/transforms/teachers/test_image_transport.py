"""How images leave mmcot: scaled down to ``teacher.image_max_side`` (the processor's own side by default) when
larger, byte-identical when not, in marker order; the sizes the budget counts are the sizes sent; the setting is
validated and ``processor`` is read from the model's processor config (no server, no model)."""
from __future__ import annotations

import base64
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from tests.support.vision_cases import image_problem
from transforms.teachers.budget import fit_within, image_side, processor_side
from transforms.teachers.messages import build_messages, sent_image, sent_image_sizes, with_data_urls
from transforms.teachers.settings import TeacherSettings


def _decoded(url: str) -> Image.Image:
    header, _, payload = url.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(payload)))


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(1, 700), st.integers(1, 700)), min_size=1, max_size=3),
       max_side=st.sampled_from([None, 64, 256, 512]))
def test_each_image_is_sent_at_the_size_the_budget_counts_in_marker_order(sizes, max_side):
    p = image_problem("t/1", [f"piece {i}" for i in range(len(sizes) + 1)], sizes)
    messages = build_messages(p, "standard", "vision")
    sent = with_data_urls(messages, p, max_side)
    urls = [part["image_url"]["url"] for part in sent[0]["content"] if part["type"] == "image_url"]
    decoded = [_decoded(url) for url in urls]
    assert [img.size for img in decoded] == sent_image_sizes(messages, p, max_side) == [
        fit_within(w, h, max_side) for w, h in sizes]
    for (w, h), img, ref, url in zip(sizes, decoded, p.images, urls):
        if fit_within(w, h, max_side) == (w, h):  # small enough: the stored bytes, untouched
            assert base64.b64decode(url.split(",", 1)[1]) == ref.bytes
        else:  # scaled: still the same picture (these are flat colours)
            assert img.convert("RGB").getpixel((img.width // 2, img.height // 2)) == \
                Image.open(io.BytesIO(ref.bytes)).convert("RGB").getpixel((w // 2, h // 2))
    keyed = [part["image_url"]["url"] for part in messages[0]["content"] if part["type"] == "image_url"]
    assert keyed == [f"mmcot-image:{m.sha256}" for m in p.image_meta]  # the keyed copy is untouched, in image order


def test_a_small_image_keeps_its_format_and_a_large_one_becomes_png():
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(out, format="JPEG")
    jpeg = out.getvalue()
    assert sent_image(jpeg, "JPEG", 1024) == (jpeg, "JPEG")
    data, fmt = sent_image(jpeg, "JPEG", 400)
    assert fmt == "PNG" and Image.open(io.BytesIO(data)).size == (400, 300)


def test_processor_is_read_from_the_models_processor_config(tmp_path):
    assert processor_side(None) is None and processor_side(str(tmp_path)) is None  # nothing local: sent as stored
    (tmp_path / "processor_config.json").write_text(json.dumps({"image_processor": {"size": {"longest_edge": 384}}}))
    assert processor_side(str(tmp_path)) == 384
    assert image_side("processor", str(tmp_path)) == 384 and image_side(640, str(tmp_path)) == 640
    assert image_side(None, str(tmp_path)) is None
    other = tmp_path / "other"
    other.mkdir()
    (other / "preprocessor_config.json").write_text(json.dumps({"size": {"shortest_edge": 224}}))
    assert image_side("processor", str(other)) is None  # resizes some other way: not guessed


def test_image_max_side_is_a_side_processor_or_null():
    assert TeacherSettings().image_max_side == "processor"
    assert TeacherSettings(image_max_side=768).image_max_side == 768
    assert TeacherSettings(image_max_side=None).image_max_side is None
    for bad in (0, "big", -5):
        with pytest.raises(ValidationError, match="image_max_side"):
            TeacherSettings(image_max_side=bad)


def test_the_cache_key_names_the_size_an_image_is_scaled_to_and_is_unchanged_when_none_is():
    from tests.support.factories import PLAN
    from transforms.teachers.cache import request_key
    from transforms.teachers.messages import keyed_as_sent

    p = image_problem("t/key", ["a", "b", "c"], [(300, 200), (1200, 600)])
    messages = build_messages(p, "standard", "vision")
    plain = request_key("m", messages, PLAN, 0)
    assert request_key("m", keyed_as_sent(messages, p, None), PLAN, 0) == plain
    assert request_key("m", keyed_as_sent(messages, p, 1200), PLAN, 0) == plain  # nothing scaled: earlier caches hold
    at_512 = keyed_as_sent(messages, p, 512)
    refs = [part["image_url"]["url"] for part in at_512[0]["content"] if part["type"] == "image_url"]
    assert refs == [f"mmcot-image:{p.image_meta[0].sha256}", f"mmcot-image:{p.image_meta[1].sha256}@512x256"]
    assert len({plain, request_key("m", at_512, PLAN, 0), request_key("m", keyed_as_sent(messages, p, 256), PLAN, 0)}) == 3
    assert messages[0]["content"] != at_512[0]["content"]  # a copy: the keyed messages stay as built
