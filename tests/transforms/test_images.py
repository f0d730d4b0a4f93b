"""Image normalization: RGB, bounded size, stable hashes, and the rejections."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.support.helpers import png_bytes
from transforms.images import ImageError, ImageSettings, normalize_image, perceptual_hash

SETTINGS = ImageSettings(max_side=32, min_side=8, max_pixels=1_000_000)


def test_normalized_image_is_rgb_png_within_max_side():
    ref, meta = normalize_image(png_bytes((128, 64), mode="L"), "img/x.jpg", SETTINGS)
    img = Image.open(io.BytesIO(ref.bytes))
    assert img.mode == "RGB" and img.format == "PNG"
    assert max(img.size) == 32 and img.size == (meta.width, meta.height) == (32, 16)
    assert ref.path == "x.png"


def test_pixel_hash_ignores_the_file_encoding_but_not_the_content():
    jpeg_free = png_bytes()
    img = Image.open(io.BytesIO(jpeg_free))
    bmp = io.BytesIO()
    img.save(bmp, format="BMP")
    _, a = normalize_image(jpeg_free, "a.png", SETTINGS)
    _, b = normalize_image(bmp.getvalue(), "b.bmp", SETTINGS)
    _, c = normalize_image(png_bytes(color=(30, 200, 30)), "c.png", SETTINGS)
    assert a.sha256 == b.sha256
    assert a.sha256 != c.sha256


def test_perceptual_hash_is_close_for_a_resized_copy_and_far_for_another_picture():
    base = Image.open(io.BytesIO(png_bytes((200, 150))))
    resized = base.resize((120, 90))
    other = Image.new("RGB", (200, 150), (255, 255, 255))
    for x in range(100, 200):
        for y in range(0, 75):
            other.putpixel((x, y), (0, 0, 0))
    distance = lambda h1, h2: bin(int(h1, 16) ^ int(h2, 16)).count("1")  # noqa: E731
    assert distance(perceptual_hash(base), perceptual_hash(resized)) <= 4
    assert distance(perceptual_hash(base), perceptual_hash(other)) > 10


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"not an image at all", "unreadable_image"),
        (png_bytes()[:40], "unreadable_image"),
        (png_bytes((4, 4)), "image_too_small"),
        (png_bytes((1200, 1000)), "decompression_bomb"),
    ],
    ids=["garbage", "truncated", "tiny", "too-many-pixels"],
)
def test_bad_images_raise_with_a_reason(data, reason):
    with pytest.raises(ImageError) as err:
        normalize_image(data, "x.png", SETTINGS)
    assert err.value.reason == reason
