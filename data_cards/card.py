"""Render a Hugging Face dataset card (``README.md``) from a run's manifest alone."""
from __future__ import annotations

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from schemas.manifest import Manifest

CARD_CONFIGS = {
    "sft": "Chat `messages` (reasoning in `<think>…</think>`, then the answer) with `images`, one kept chain per problem.",
    "rl": "Problems in verl's RL layout (`prompt`, `images`, `reward_model.ground_truth`, `extra_info.pass_rate`).",
}
CITATIONS = """```bibtex
@article{peng2025skyworkr1v,
  title   = {Skywork R1V: Pioneering Multimodal Reasoning with Chain-of-Thought},
  author  = {Peng, Yi and others},
  journal = {arXiv preprint arXiv:2504.05599},
  year    = {2025}
}
@article{wei2025skyworkr1v2,
  title   = {Skywork R1V2: Multimodal Hybrid Reinforcement Learning for Reasoning},
  author  = {Wei, Chris and others},
  journal = {arXiv preprint arXiv:2504.16656},
  year    = {2025}
}
```"""


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket for a row count."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M" if rows < 10_000_000 else "n>10M"


def card_data(manifest: Manifest) -> DatasetCardData:
    """The card's YAML metadata: one config per non-empty output set."""
    output = manifest.config["output"]
    configs = [
        {"config_name": name, "data_files": [{"split": "train", "path": f"{name}/*.parquet"}]}
        for name in CARD_CONFIGS
        if manifest.rows.get(name)
    ]
    return DatasetCardData(
        license=output["license"],
        language=output["language"],
        pretty_name=output.get("pretty_name") or manifest.config["run"]["name"],
        size_categories=[size_category(max(manifest.rows.get("sft", 0), manifest.rows.get("rl", 0)))],
        task_categories=["image-text-to-text", "visual-question-answering"],
        tags=output["tags"],
        configs=configs,
    )


def _funnel(manifest: Manifest) -> str:
    c = manifest.counts
    lines = ["| outcome | stage/reason | problems |", "| --- | --- | ---: |", f"| read | | {c.read} |"]
    lines += [f"| dead-lettered | {k} | {v} |" for k, v in c.dead_lettered.items()]
    lines += [f"| dropped | {k} | {v} |" for k, v in c.dropped.items()]
    lines.append(f"| **kept** | | **{c.kept}** |")
    status = "holds" if c.balanced() else "DOES NOT HOLD"
    lines.append(f"\nAccounting: read = kept + dropped + dead-lettered {status}.")
    return "\n".join(lines)


def _load_snippets(manifest: Manifest, repo_id: str) -> str:
    names = [n for n in CARD_CONFIGS if manifest.rows.get(n)]
    calls = "\n".join(f'{n} = load_dataset("{repo_id}", "{n}", split="train")' for n in names)
    return f"```python\nfrom datasets import load_dataset\n\n{calls}\n```"


def _outputs(manifest: Manifest) -> str:
    lines = ["| config | rows | what it holds |", "| --- | ---: | --- |"]
    lines += [f"| `{n}` | {manifest.rows.get(n, 0)} | {desc} |" for n, desc in CARD_CONFIGS.items()]
    return "\n".join(lines)


def _teacher(manifest: Manifest) -> str:
    teacher, length = manifest.config["teacher"], manifest.config["length"]
    bands = ", ".join(f"{b['name']} (difficulty ≤ {b['max_difficulty']}: {b['max_tokens']} tokens, {b['prompt_style']})" for b in length["bands"])
    s = manifest.stats
    return "\n".join(
        [
            f"- Teacher: `{teacher['model']}` ({teacher['modality']} input) through an OpenAI-compatible server.",
            f"- Sampling: {length['samples']} chains per problem, temperature {length['temperature']}, top-p {length['top_p']}, "
            f"repetition penalty {length['repetition_penalty']}; policy `{length['policy']}` with bands {bands}.",
            f"- Chains: {int(s.get('chains', 0))} sampled, {int(s.get('chains_correct', 0))} verified correct, "
            f"{int(s.get('chains_truncated', 0))} truncated; {int(s.get('completion_tokens_incl_cache', 0))} completion tokens.",
            f"- Selection: `{manifest.config['select']['strategy']}`; RL rows keep problems with "
            f"{manifest.config['select']['rl_min_pass_rate']} < pass rate < {manifest.config['select']['rl_max_pass_rate']}.",
        ]
    )


def render_card(manifest: Manifest, repo_id: str | None = None) -> str:
    """The full card text (YAML header + body) for a run."""
    repo = repo_id or f"<owner>/{manifest.config['run']['name']}"
    versions = ", ".join(f"{k} {v}" for k, v in sorted(manifest.versions.items()))
    config_yaml = yaml.safe_dump(manifest.config, sort_keys=False)
    body = f"""
# {card_data(manifest).pretty_name}

Reasoning chains distilled from a teacher model for image-question problems by
mmcot, following the adaptive-length chain-of-thought
distillation of Skywork R1V: every chain was verified against the reference answer, and the
shortest correct chain per problem was kept.

## Load it

{_load_snippets(manifest, repo)}

## Contents

{_outputs(manifest)}

## How it was made

{_teacher(manifest)}

### Funnel

{_funnel(manifest)}

## Reproduce

```bash
{manifest.command}
```

Config hash `{manifest.config_hash}`; run `{manifest.run_id}` at {manifest.created_at}, {manifest.wall_time_s:.0f} s.
Versions: {versions}.

<details><summary>Config</summary>

```yaml
{config_yaml}```
</details>

## Limitations

Correctness is checked against the reference answer only: a chain with the right answer can
still hold wrong steps. The teacher's quality bounds the chains' quality; see the teacher above.

## Citation

{CITATIONS}
"""
    return DatasetCard(f"---\n{card_data(manifest).to_yaml()}\n---\n{body}").content

