"""Image validation and normalization: decode, RGB, bound the size, re-encode, hash."""
from __future__ import annotations

import hashlib
import io
import warnings

import imagehash
from PIL import Image, UnidentifiedImageError
from pydantic import Field

from schemas.problem import ImageMeta, ImageRef
from schemas.settings import Settings


class ImageSettings(Settings):
    """Limits for accepted images.

    ``max_pixels`` guards against decompression bombs (checked before decoding);
    ``max_side`` bounds the normalized image (aspect ratio kept).
    """

    max_side: int = Field(
        default=1024,
        description="Longest side of a normalized image, in pixels (a larger image is shrunk, aspect ratio kept).",
    )
    min_side: int = Field(
        default=8,
        description="Shortest side an image may have, in pixels; a smaller one is dead-lettered (image_too_small).",
    )
    max_pixels: int = Field(
        default=50_000_000,
        description="Most pixels (width × height) an image may have, checked before decoding (a decompression-bomb guard).",
    )
    format: str = Field(default="PNG", description="Format images are re-encoded in (a Pillow format name: PNG, JPEG, …).")


class ImageError(ValueError):
    """An image that cannot be used; ``reason`` is a short word for the dead-letter row."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def perceptual_hash(image: Image.Image) -> str:
    """The 64-bit DCT perceptual hash (``imagehash.phash``) as 16 hex digits.

    Resized or re-encoded copies land within a few bits of each other (Hamming distance).
    """
    return str(imagehash.phash(image))


def pixel_sha256(image: Image.Image) -> str:
    """sha256 of the size and RGB pixels: equal for equal pictures whatever the file encoding."""
    digest = hashlib.sha256(f"{image.size[0]}x{image.size[1]}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def normalize_image(data: bytes, name: str, settings: ImageSettings) -> tuple[ImageRef, ImageMeta]:
    """Decode ``data``, convert to RGB, shrink to ``max_side``, re-encode, and hash.

    Raises :class:`ImageError` with reason ``unreadable_image``, ``decompression_bomb`` or
    ``image_too_small``.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > settings.max_pixels:
                raise ImageError("decompression_bomb", f"{name}: {width}x{height} exceeds {settings.max_pixels} pixels")
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("decompression_bomb", f"{name}: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError("unreadable_image", f"{name}: {exc}") from exc
    if min(img.size) < settings.min_side:
        raise ImageError("image_too_small", f"{name}: {img.size[0]}x{img.size[1]} below {settings.min_side} px")
    img = img.convert("RGB")
    img.thumbnail((settings.max_side, settings.max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format=settings.format)
    encoded = out.getvalue()
    meta = ImageMeta(
        width=img.size[0],
        height=img.size[1],
        format=settings.format,
        sha256=pixel_sha256(img),
        phash=perceptual_hash(img),
    )
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return ImageRef(bytes=encoded, path=f"{stem}.{settings.format.lower()}"), meta
