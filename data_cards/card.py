"""Render and write a run's Hugging Face dataset card (``README.md``) from its manifest and the pipeline's figures and
row sample under ``_meta/`` (no data shard is read)."""
from __future__ import annotations

import posixpath
import re

import fsspec
import yaml
from huggingface_hub import DatasetCard

from data_cards.examples import EXAMPLES_DIR, Example, write_examples
from data_cards.funnel import funnel_section
from data_cards.metadata import OutputSet, card_data, loadable, output_sets
from data_cards.plots import PLOTS_DIR
from data_cards.signals import signals_section
from data_cards.trainers import DATASET_INFO, TRAINER_NAMES, trainers_section, write_dataset_info
from schemas.manifest import Manifest, usd
from schemas.output_sets import DESCRIPTIONS, ORDERED_SETS, TRAINER_SETS, trainer_of
from schemas.stages import ASSESS, GENERATE, JUDGE, PLAN, REPAIR, SCORE, SELECT

# what a run writes besides its output sets
CARD_FILES = ("manifest.json", "README.md", "report.html", PLOTS_DIR, EXAMPLES_DIR, DATASET_INFO)

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


def _describe(s: OutputSet) -> str:
    if s.name in DESCRIPTIONS:
        return DESCRIPTIONS[s.name]
    return "Columns: " + ", ".join(f"`{c}`" for c in s.features) + "." if s.features else ""


def _for(name: str) -> str:
    trainer = trainer_of(name)
    return TRAINER_NAMES[trainer] if trainer else "–"


def _contents(sets: list[OutputSet]) -> str:
    lines = ["| config | for | rows | shards | Parquet bytes | what it holds |", "| --- | --- | ---: | ---: | ---: | --- |"]
    lines += [f"| `{s.name}` | {_for(s.name)} | {s.rows} | {s.shards} | {s.bytes} | {_describe(s)} |" for s in sets]
    lines += [f"\n`{s.name}/` is not offered as a config: `datasets` cannot load it ({s.unloadable}). Read it with "
              f"pyarrow or pandas." for s in sets if s.unloadable]
    return "\n".join(lines)


def _load_snippet(sets: list[OutputSet], repo_id: str) -> str:
    calls = "\n".join(f'{s.name} = load_dataset("{repo_id}", "{s.name}", split="train")' for s in loadable(sets))
    return (f"```python\nfrom datasets import load_dataset\n\n{calls}\n```\n\n"
            "A local copy of the output directory loads the same way: `load_dataset(\"path/to/output\", \"sft\")`. "
            "Images decode as PIL images.")


def _helper_model(section: dict, teacher: dict) -> str:
    """The model a judge/repair section names, or the run's teacher when it names none."""
    model = (section.get("endpoint") or {}).get("model")
    return f"`{model}`" if model else f"the teacher (`{teacher.get('model')}`)"


def _judge_and_repair(config: dict) -> list[str]:
    """A line each for the judge and the repair model, when the config has them (read defensively)."""
    teacher, assess = config.get(GENERATE.section, {}), config.get(ASSESS.section, {})
    lines = []
    judge = config.get(JUDGE.section) or assess.get(JUDGE.section)
    if isinstance(judge, dict):
        min_quality = assess.get("min_quality")
        lines.append(f"- Judge: {_helper_model(judge, teacher)} scores S_v, S_t, S_I (1–5) per problem, max "
                     f"{judge.get('max_tokens')} tokens, temperature {judge.get('temperature')}"
                     + (f"; problems below quality {min_quality} are dropped" if min_quality else "")
                     + f" (iteration {config.get('run', {}).get('iteration', 1)}).")
    repair = config.get(REPAIR.section) or {}
    if repair.get("enabled"):
        lines.append(f"- Repair: {_helper_model(repair, teacher)} rewrites a wrong chain of a problem with no correct "
                     f"chain toward the reference answer (max {repair.get('max_tokens')} tokens); the rewrite is verified again.")
    scorer, select = config.get(SCORE.section), config.get(SELECT.section) or {}
    if isinstance(scorer, dict):
        bar = select.get("min_chain_quality") or 0
        lines.append(f"- Chain scorer: {_helper_model(scorer, teacher)} scores {scorer.get('chains')} chains 0–5 "
                     f"(R1V's reward-model score)" + (f"; chains below {bar:g} are not kept" if bar else "")
                     + ("; preference pairs are best vs worst by score (R1V2's MPO)" if select.get("pairs") == "score" else "")
                     + ".")
    return lines


def _making(manifest: Manifest) -> str:
    config, s = manifest.config, manifest.stats
    teacher, length, select = config.get(GENERATE.section, {}), config.get(PLAN.section, {}), config.get(SELECT.section, {})
    bands = ", ".join(f"{b['name']} (difficulty ≤ {b['max_difficulty']}: {b['max_tokens']} tokens"
                      + (f", target {b['target_tokens']}" if b.get("target_tokens") else "") + f", {b['prompt_style']} prompt)"
                      for b in length.get("bands", []))
    lines = [f"- Teacher: `{teacher.get('model')}` ({teacher.get('modality', '?')} input) through an OpenAI-compatible server.",
             *_judge_and_repair(config),
             f"- Difficulty: from `{config.get('assess', {}).get('difficulty_from', '?')}`.",
             f"- Sampling: {length.get('samples')} chains per problem, temperature {length.get('temperature')}, "
             f"top-p {length.get('top_p')}, repetition penalty {length.get('repetition_penalty')}; length policy "
             f"`{length.get('policy')}`" + (f" with bands {bands}" if bands else "")
             + (f"; R1V's controller with {length['drlc']}" if length.get("policy") == "r1v_drlc" and length.get("drlc") else "")
             + ". The full config is under Reproduce.",
             f"- Chains: {int(s.get('chains', 0))} sampled ({int(s.get('chains_from_cache', 0))} from the response cache), "
             f"{int(s.get('chains_correct', 0))} verified correct, {int(s.get('chains_truncated', 0))} truncated; "
             f"{int(s.get('prompt_tokens', 0))} prompt and {int(s.get('completion_tokens', 0))} completion tokens newly generated.",
             *_cost(manifest),
             f"- Selection: `{select.get('strategy')}`; RL rows keep problems with "
             f"{select.get('rl_min_pass_rate')} < pass rate < {select.get('rl_max_pass_rate')}."]
    return "\n".join(lines)


def _cost(manifest: Manifest) -> list[str]:
    """A line with the run's cost at the configured prices and what the response cache saved (none without prices)."""
    cost = manifest.cost
    if cost is None:
        return []
    stages = ", ".join(f"{name} {usd(s.cost_usd)}" for name, s in cost.stages.items())
    return [f"- Cost at the configured prices: {usd(cost.cost_usd)} for new teacher calls ({stages}); "
            f"the response cache saved {usd(cost.cache_saved_usd)}."]


def _curriculum(manifest: Manifest) -> str:
    c = manifest.curriculum
    if c is None or not c.shards:
        return ""
    written = " and ".join(f"`{name}`" for name in ORDERED_SETS if manifest.rows.get(name))
    lines = [f"\n### RL curriculum\n\n{written} rows are written {c.description} (`select.rl_order: {c.order}`), "
             "across shards in file order; `extra_info.index` is each row's place in that order. Train without shuffling "
             "(verl `data.shuffle=False`, shards listed in order) to follow it.\n",
             "| shard | rows | index | pass rate | difficulty |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| `{r.path}` | {r.rows} | {r.first_index}–{r.last_index} | {r.min_pass_rate:.3f}–{r.max_pass_rate:.3f} | "
              f"{r.min_difficulty:.3f}–{r.max_difficulty:.3f} |" for r in c.shards]
    return "\n".join(lines)


def _q(quantiles) -> str:
    return " / ".join("–" if v is None else f"{v:g}" for v in (quantiles.p10, quantiles.p50, quantiles.p90))


def _bands(manifest: Manifest) -> str:
    if not manifest.bands:
        return "No chains were generated."
    lines = ["| band | mean difficulty | problems | chains | correct | truncated | repaired | pass rate | kept | "
             "tokens p10 / p50 / p90 (all) | tokens p10 / p50 / p90 (kept) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {b.name} | {b.difficulty_mean:.3f} | {b.problems} | {b.chains} | {b.correct_chains} | {b.truncated_chains} | "
              f"{b.repaired_chains} | {b.pass_rate:.3f} | {b.kept} | {_q(b.tokens_all)} | {_q(b.tokens_kept)} |"
              for b in manifest.bands]
    lines += ["", "Chains, correct, truncated, pass rate and the token counts of all chains count the teacher's samples "
              "(repairs apart); pass rate is the mean over the band's problems of the share of correct samples; token "
              "counts are completion tokens."]
    lines += [f"\n![{posixpath.splitext(posixpath.basename(p))[0].replace('_', ' ')}]({p})" for p in manifest.plots]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {n}" for k, n in counts.items()) or "–"


def _signals(manifest: Manifest) -> str:
    """The assessment signals and chain scores per band (empty when the bands carry none)."""
    bands = [b for b in manifest.bands if b.signals.difficulty_sources or b.signals.scored_chains]
    if not bands:
        return ""
    lines = ["\n### Assessment and chain scores by band\n",
             "| band | difficulty from | judged | clarity | S_v | S_t | S_I | quality (1–5) | scored chains | "
             "chain score mean | chain scores (0–5) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {b.name} | {_counts(g.difficulty_sources)} | {g.judged} | {_num(g.clarity_mean)} | {_num(g.vision_score_mean)} | "
              f"{_num(g.text_score_mean)} | {_num(g.integration_score_mean)} | {_num(g.quality_mean)} | {g.scored_chains} | "
              f"{_num(g.chain_score_mean)} | {_counts(g.chain_scores)} |" for b in bands for g in [b.signals]]
    judges = sorted({m for b in bands for m in b.signals.judge_models})
    scorers = sorted({m for b in bands for m in b.signals.scorers})
    lines += ["", "Means over the band's problems that have the signal; S_v, S_t, S_I on the run's normalized [0, 1] scale. "
              f"Judge: {', '.join(f'`{m}`' for m in judges) or 'none'}; chain scorer: "
              f"{', '.join(f'`{m}`' for m in scorers) or 'none'}. Every chain in `generations/` and every row's "
              "`assessment` carries these signals."]
    return "\n".join(lines)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``, so a teacher's text cannot close it early and have
    the rest rendered as Markdown (an image pointing anywhere, HTML)."""
    return "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))


def _examples(examples: list[Example]) -> str:
    blocks = []
    for ex in examples:
        images = [f"![{ex.config} example image {i}]({p})" for i, p in enumerate(ex.images)]
        fence = _fence(ex.json)
        blocks.append("\n\n".join([f"### `{ex.config}`", *images, f"{fence}json\n{ex.json}\n{fence}"]))
    return "\n\n".join(blocks) + "\n\nImages are shown as the files under `examples/`; strings longer than 300 characters are cut."


def _trainers(manifest: Manifest) -> list[str]:
    """The run's ``output.trainers`` (runs before the key wrote every trainer's sets)."""
    return manifest.config.get("output", {}).get("trainers") or list(TRAINER_SETS)


def render_card(manifest: Manifest, sets: list[OutputSet], examples: list[Example], repo_id: str | None = None) -> str:
    """The full card text (YAML header + body) for a run."""
    data = card_data(manifest, sets)
    repo = repo_id or f"<owner>/{manifest.config['run']['name']}"
    versions = ", ".join(f"{k} {v}" for k, v in sorted(manifest.versions.items()))
    config_yaml = yaml.safe_dump(manifest.config, sort_keys=False)
    body = f"""
# {data.pretty_name}

Chains of thought distilled from a teacher model for image-question problems by mmcot, following
the adaptive-length chain-of-thought distillation of Skywork R1V: each problem's difficulty sets
the teacher's length budget, every chain was verified against the reference answer, and one
correct chain per problem was kept (selection below). It is meant for supervised fine-tuning
(`sft`), reinforcement learning (`rl`) and preference tuning (`preference`, when present) of
multimodal reasoning models.

## Load it

{_load_snippet(sets, repo)}

## Contents

{_contents(sets)}

## Train on it

{trainers_section(_trainers(manifest))}

## How it was made

{_making(manifest)}
{_curriculum(manifest)}

### Funnel

{funnel_section(manifest.counts)}

### Difficulty and length by band

{_bands(manifest)}
{_signals(manifest)}
{signals_section(manifest)}

## Examples

{_examples(examples)}

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

Correctness is checked against the reference answer only: a chain with the right answer can still
hold wrong steps, and a problem whose reference is wrong rewards wrong chains. The teacher's quality
bounds the chains' quality; the length budgets follow the difficulty estimate above, which is only as
good as its source. Problems come from the source named in the config and keep its license terms.

## Citation

{CITATIONS}
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}").content


def write_card(out_dir: str, manifest: Manifest, repo_id: str | None = None) -> str:
    """Write ``README.md`` and its example images into ``out_dir``; return the card's path."""
    sets = output_sets(out_dir, manifest)
    examples = write_examples(out_dir, [s.name for s in sets])
    write_dataset_info(out_dir, manifest)
    fs, root = fsspec.core.url_to_fs(out_dir)
    path = posixpath.join(root, "README.md")
    with fs.open(path, "w") as fh:
        fh.write(render_card(manifest, sets, examples, repo_id))
    return path


def load_manifest(out_dir: str) -> Manifest:
    """The manifest of the output in ``out_dir``."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    with fs.open(posixpath.join(root, "manifest.json")) as fh:
        return Manifest.from_json(fh.read())

