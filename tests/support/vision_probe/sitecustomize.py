"""A probe on what Idefics3's image processor receives, for the vision tests (never loaded by mmcot itself).

A test vLLM server started with this directory first on ``PYTHONPATH`` and ``MMCOT_PROBE_LOG`` set
loads it at interpreter start-up: every call of the image processor appends one JSON line to that
file, the images in the order received, each as ``[width, height, [r, g, b]]`` (its size and the
colour of its centre pixel). The in-process engine's tests call :func:`install` directly.
"""
from __future__ import annotations

import json
import os
import threading

_LOCK = threading.Lock()


def _fingerprints(images) -> list:
    """[width, height, centre colour] of every image in a (nested) list of PIL images, in order."""
    if isinstance(images, (list, tuple)):
        return [f for image in images for f in _fingerprints(image)]
    rgb = images.convert("RGB")
    return [[rgb.width, rgb.height, list(rgb.getpixel((rgb.width // 2, rgb.height // 2)))]]


def install(log_path: str):
    """Record every call of Idefics3's PIL image processor into ``log_path``; returns a function that undoes it."""
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    original = Idefics3ImageProcessorPil.preprocess

    def preprocess(self, images, *args, **kwargs):
        line = json.dumps(_fingerprints(images))
        with _LOCK, open(log_path, "a") as log:
            log.write(line + "\n")
        return original(self, images, *args, **kwargs)

    Idefics3ImageProcessorPil.preprocess = preprocess
    return lambda: setattr(Idefics3ImageProcessorPil, "preprocess", original)


if os.environ.get("MMCOT_PROBE_LOG"):
    install(os.environ["MMCOT_PROBE_LOG"])
