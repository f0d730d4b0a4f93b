"""What sending an image costs, and whether scaling it down to the model's processor size first saves time.

Per image side (512, 1024, 2048 px, square) and content (``chart``: flat colours and text, which PNG
compresses well; ``photo``: gradients and noise, which it does not): the stored PNG's bytes, the
data URL's bytes, the time to base64-encode it (what mmcot does for every request), and the time to
scale it down to the processor's side and re-encode it (``teacher.image_max_side``) with the
scaled data URL's bytes.

Then end to end against the real vLLM server on the plumbing vision teacher (whose processor
resizes every image to 512 px): ``--requests`` chat requests per side and way, each with a fresh
image (so vLLM's processor cache never answers) and ``max_tokens`` 1, one at a time, as stored (the
baseline) and scaled down on the client first, alternating so drift in the machine's load falls on
both; per request (medians) the wall seconds, client encoding included, and the CPU seconds all the
server's processes used, with the ratios scaled / as stored. At 512 px nothing is scaled, so that
row's ratios show the noise. Also the server's start-up time and peak resident memory. The client runs on the same machine
as the server, so client work is counted too. Run from the repository root, with nothing else
using the cores::

    PYTHONPATH=. python3 benchmarks/image_transport.py [--requests 12]
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.vision_teacher import VISION_MODEL_NAME
from pipelines.vllm_server import embedded_server, group_members
from transforms.teachers.budget import processor_side
from transforms.teachers.messages import sent_image

SIDES = (512, 1024, 2048)
WARM_UP = 4  # requests before timing: the first ones after start-up are slower


def chart(side: int, seed: int) -> Image.Image:
    """A bar chart with labels at ``side`` px: flat colours, sharp edges."""
    rng = random.Random(seed)
    image = Image.new("RGB", (side, side), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    bars = 6
    width = side // (bars * 2)
    for i in range(bars):
        top = rng.randint(side // 8, side * 3 // 4)
        x = width // 2 + i * 2 * width
        draw.rectangle([x, top, x + width, side - side // 10], fill=(rng.randint(0, 200), rng.randint(0, 200), 200))
        draw.text((x, side - side // 12), f"v{i}={side - top}", fill=(0, 0, 0), font_size=max(10, side // 40))
    draw.line([(side // 20, side - side // 10), (side - side // 20, side - side // 10)], fill=(0, 0, 0), width=max(1, side // 256))
    return image


def photo(side: int, seed: int) -> Image.Image:
    """Smooth colour gradients under noise at ``side`` px: what PNG compresses poorly, like a photograph."""
    rng = random.Random(seed)
    small = Image.new("RGB", (8, 8))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64)])
    base = small.resize((side, side), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((side, side), 24).convert("RGB").filter(ImageFilter.GaussianBlur(0.6))
    return Image.blend(base, noise, 0.25)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def data_url(data: bytes, fmt: str) -> str:
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(data).decode('ascii')}"


def timed_ms(fn, repeat: int = 5) -> float:
    """The median wall milliseconds of ``fn()`` over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def encoding_table(target: int) -> None:
    """Bytes and encode times per side and content, as stored and scaled to ``target``."""
    print(f"\n{'image':<14} {'PNG bytes':>10} {'data URL':>10} {'b64 ms':>7} | {'scaled URL':>10} {'scale+enc ms':>12}")
    for side in SIDES:
        for name, draw in (("chart", chart), ("photo", photo)):
            data = png(draw(side, 0))
            url = data_url(data, "PNG")
            encode = timed_ms(lambda d=data: data_url(d, "PNG"))
            scaled = data_url(*sent_image(data, "PNG", target))
            scale = timed_ms(lambda d=data: data_url(*sent_image(d, "PNG", target)))
            print(f"{name + ' ' + str(side):<14} {len(data):>10,} {len(url):>10,} {encode:>7.1f} | "
                  f"{len(scaled):>10,} {scale:>12.1f}")


def _ask(client: httpx.Client, base_url: str, url: str) -> None:
    body = {"model": VISION_MODEL_NAME, "max_tokens": 1, "temperature": 0.0,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is shown?"},
                                                      {"type": "image_url", "image_url": {"url": url}}]}]}
    client.post(f"{base_url}/chat/completions", json=body).raise_for_status()


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by the live processes of group ``pgid``."""
    total = 0
    for pid in group_members(pgid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def end_to_end(server, side: int, draw, requests: int, target: int, seed: int) -> dict[str, list[tuple[float, float]]]:
    """(wall seconds with client encoding, server CPU seconds) per request, one request at a time, as stored and
    scaled to ``target`` alternately (ABAB, BABA: drift in the machine's load falls on both), each a fresh image."""
    times: dict[str, list[tuple[float, float]]] = {"stored": [], "scaled": []}
    ways = [("stored", None), ("scaled", target)]
    with httpx.Client(timeout=600) as client:
        for i in range(requests):
            for label, max_side in (ways if i % 2 == 0 else ways[::-1]):
                data = png(draw(side, seed + 2 * i + (label == "scaled")))  # fresh pixels: no cache hits
                cpu, started = cpu_seconds(server.pid), time.perf_counter()
                _ask(client, server.base_url, data_url(*sent_image(data, "PNG", max_side)))
                times[label].append((time.perf_counter() - started, cpu_seconds(server.pid) - cpu))
    return times


class PeakRSS(threading.Thread):
    """Samples the summed resident memory of a process group twice a second; ``peak`` bytes."""

    def __init__(self, pgid: int):
        super().__init__(daemon=True)
        self.pgid, self.peak, self.running = pgid, 0, True

    def run(self) -> None:
        while self.running:
            total = 0
            for pid in group_members(self.pgid):
                with contextlib.suppress(OSError):
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            self.peak = max(self.peak, total)
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12, help="requests per side and way of sending")
    parser.add_argument("--content", choices=("chart", "photo"), default="photo", help="images sent end to end")
    args = parser.parse_args()

    server = embedded_server(VISION_MODEL_NAME, max_images=1)
    target = processor_side(str(server.model_dir))
    print(f"model: {VISION_MODEL_NAME}; its processor resizes images to {target} px")
    encoding_table(target)
    draw = chart if args.content == "chart" else photo
    started = time.perf_counter()
    with server:
        print(f"\nserver ready in {time.perf_counter() - started:.0f} s")
        rss = PeakRSS(server.pid)
        rss.start()
        end_to_end(server, 512, draw, WARM_UP, target, seed=-100)  # warm-up
        print(f"\nend to end: {args.requests} {args.content} images each way per side, one request at a time, "
              f"alternating, max_tokens 1; medians per request: wall seconds (client encoding included), server CPU s")
        print(f"{'side':>5} {'stored wall':>12} {'cpu':>6} | {'scaled wall':>12} {'cpu':>6} | {'wall ratio':>10} {'cpu ratio':>9}")
        for side in SIDES:
            times = end_to_end(server, side, draw, args.requests, target, seed=side * 1000)
            (wall, cpu), (scaled_wall, scaled_cpu) = (
                [statistics.median(x[k] for x in times[way]) for k in (0, 1)] for way in ("stored", "scaled"))
            print(f"{side:>5} {wall:>12.3f} {cpu:>6.2f} | {scaled_wall:>12.3f} {scaled_cpu:>6.2f} | "
                  f"{scaled_wall / wall:>10.2f} {scaled_cpu / cpu:>9.2f}")
        print("(at 512 px nothing is scaled: both ways do the same work, so that row's ratios are the noise)")
        rss.running = False
        print(f"server's peak resident memory (all its processes): {rss.peak / 2**30:.1f} GiB")

if __name__ == "__main__":
    main()
