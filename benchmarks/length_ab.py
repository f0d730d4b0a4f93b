"""A/B of length control on the same problems: a fixed budget against the adaptive policies.

Arms (each a full pipeline run on DirectRunner against one embedded-teacher server, each with
its own empty response cache so every arm pays for its own tokens):

- ``fixed``: one band, the largest budget for every problem, standard prompt, shortest correct;
- ``token_budget``: ``configs/sample.yaml``'s bands (budget and prompt style by difficulty), length-fit selection;
- ``r1v_drlc``: the same bands plus the judge and R1V's repetition-penalty controller.

Prints, per arm: completion tokens generated, chains, correct chains, problems kept, mean kept
length, the Spearman correlation between difficulty and kept-chain length, and per difficulty
band the problems, yield (kept / problems) and median kept length.

Run from the repository root (needs the embedded teacher, ``mmcot teacher prepare``)::

    PYTHONPATH=. python3 benchmarks/length_ab.py [--n 60] [--samples 4] [--arms fixed,token_budget,r1v_drlc]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.config import parse_config
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.run import run_pipeline
from pipelines.vllm_server import VllmServer
from transforms.synth import generate, write_jsonl

SAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "sample.yaml"


def arm_sections(arm: str, base: dict) -> dict:
    """Config sections that differ per arm."""
    bands = base["length"]["bands"]
    if arm == "fixed":
        widest = max(b["max_tokens"] for b in bands)
        fixed_band = [{"name": "all", "max_difficulty": 1.0, "max_tokens": widest, "prompt_style": "standard"}]
        return {"length": {**base["length"], "bands": fixed_band}, "select": {**base["select"], "strategy": "shortest_correct"}}
    if arm == "token_budget":
        return {}
    if arm == "r1v_drlc":
        return {"judge": {}, "length": {**base["length"], "policy": "r1v_drlc"}}
    raise SystemExit(f"unknown arm {arm!r}")


def run_arm(arm: str, base: dict, jsonl: Path, work: Path, base_url: str) -> dict:
    """One pipeline run; returns its figures."""
    config = parse_config({**base, **arm_sections(arm, base),
                           "run": {"name": f"ab-{arm}", "output_dir": str(work / arm)},
                           "source": {**base["source"], "path": str(jsonl)},
                           "teacher": {**base["teacher"], "base_url": base_url, "cache_url": str(work / f"cache-{arm}")}})
    manifest = run_pipeline(config, [], command=f"benchmarks/length_ab.py ({arm})")
    gens = pd.read_parquet(work / arm / "generations")
    kept = pd.read_parquet(work / arm / "sft", columns=["difficulty", "completion_tokens"]) if manifest.rows["sft"] else pd.DataFrame(
        columns=["difficulty", "completion_tokens"])
    return {
        "arm": arm,
        "tokens": int(gens["completion_tokens"].sum()),
        "chains": len(gens),
        "correct": int(gens["verdict"].map(lambda v: v["correct"]).sum()),
        "kept": manifest.counts.kept,
        "kept_mean_len": kept["completion_tokens"].mean(),
        "spearman": kept["difficulty"].corr(kept["completion_tokens"], method="spearman") if len(kept) > 2 else float("nan"),
        "difficulty": gens.groupby("problem_id")["difficulty"].first(),
        "kept_rows": kept,
        "wall_s": manifest.wall_time_s,
    }


def per_band(result: dict, edges: list[tuple[str, float]]) -> list[str]:
    """Problems, yield and median kept length per configured difficulty band (the sample config's bands)."""
    lines = []
    lower = -1.0
    for name, upper in edges:
        problems = ((result["difficulty"] > lower) & (result["difficulty"] <= upper)).sum()
        kept = result["kept_rows"][(result["kept_rows"]["difficulty"] > lower) & (result["kept_rows"]["difficulty"] <= upper)]
        share = len(kept) / problems if problems else float("nan")
        lines.append(f"    {name:<7} problems {problems:>3}  kept {len(kept):>3}  yield {share:5.1%}  "
                     f"median kept tokens {kept['completion_tokens'].median() if len(kept) else float('nan'):6.0f}")
        lower = upper
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--arms", default="fixed,token_budget,r1v_drlc")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    base = yaml.safe_load(SAMPLE_CONFIG.read_text())
    base["length"]["samples"] = args.samples
    edges = [(b["name"], b["max_difficulty"]) for b in base["length"]["bands"]]
    work = Path(tempfile.mkdtemp(prefix="mmcot-ab-"))
    jsonl = write_jsonl(list(generate(args.n, seed=args.seed)), work / "data")
    results = []
    with VllmServer(prepare_embedded_teacher(), EMBEDDED_MODEL_NAME, die_with_parent=True, log_path=work / "vllm.log") as server:
        for arm in args.arms.split(","):
            results.append(run_arm(arm, base, jsonl, work, server.base_url))
            print(f"[{arm}] done in {results[-1]['wall_s']:.0f} s", flush=True)

    print(f"\n{args.n} synthetic problems (seed {args.seed}), k={args.samples}, teacher {EMBEDDED_MODEL_NAME} on vLLM-CPU; "
          f"outputs in {work}")
    print(f"{'arm':<13} {'tokens':>8} {'chains':>7} {'correct':>8} {'kept':>5} {'mean kept len':>14} {'spearman(d, len)':>17}")
    for r in results:
        print(f"{r['arm']:<13} {r['tokens']:>8} {r['chains']:>7} {r['correct']:>8} {r['kept']:>5} "
              f"{r['kept_mean_len']:>14.1f} {r['spearman']:>17.2f}")
    baseline = results[0]
    for r in results[1:]:
        print(f"{r['arm']} vs {baseline['arm']}: tokens x{r['tokens'] / max(baseline['tokens'], 1):.2f}, "
              f"correct chains x{r['correct'] / max(baseline['correct'], 1):.2f}, kept x{r['kept'] / max(baseline['kept'], 1):.2f}")
    for r in results:
        print(f"  {r['arm']} by difficulty band:")
        print("\n".join(per_band(r, edges)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
