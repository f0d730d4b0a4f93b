"""Generate against the RATE-LIMITED STUB server (tests/support/rate_limited_stub.py) with and without the endpoint's rate limit.

Prints, per run: requests served and refused (429), client retries, calls that waited on the
limiter and their summed wait, and the rates the stub saw (requests and tokens per second over
the span of its arrivals) against its limits.

    PYTHONPATH=$PWD python3 -m benchmarks.rate_limits
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.support.rate_limited_stub import RateLimitedStub
from tests.transforms.teachers.test_rate_limits import PROBLEMS, RPM, TPM, _generate
from transforms.teachers.rate_limit import RateLimitSettings


def main() -> None:
    print(f"stub limits: {RPM} requests/min ({RPM / 60:.0f}/s), {TPM} tokens/min ({TPM / 60:.0f}/s), 2 s burst; "
          f"{PROBLEMS} problems x 3 samples, 32 in flight")
    for limited in (True, False):
        limit = RateLimitSettings(requests_per_minute=RPM, tokens_per_minute=TPM) if limited else None
        with tempfile.TemporaryDirectory() as cache, RateLimitedStub(RPM, TPM, burst_s=2.0) as stub:
            started = time.monotonic()
            counters = _generate(stub.base_url, Path(cache), limit)
            wall = time.monotonic() - started
        span = stub.arrivals[-1] - stub.arrivals[0]
        tokens = stub.counts["prompt_tokens"] + stub.counts["completion_tokens"]
        print(f"{'with' if limited else 'without'} rate_limit: wall {wall:.1f} s, served {stub.counts['served']}, "
              f"refused 429 {stub.counts['refused_429']}, retries {counters.get('retries', 0)}, "
              f"waited {counters.get('rate_limited', 0)} calls / {counters.get('rate_limit_wait_ms', 0) / 1000:.1f} s "
              f"summed; stub saw {(stub.counts['served'] - 1) / span:.2f} req/s, {tokens / span:.0f} tok/s")


if __name__ == "__main__":
    main()
