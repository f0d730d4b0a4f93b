"""The rounds card (``README.md`` at a rounds output directory): every round's settings, funnel, rescues, tokens
and chain-score distribution, from ``rounds.json`` and each round's manifest."""
from __future__ import annotations

import posixpath

import fsspec

from data_cards.card import load_manifest
from schemas.manifest import Manifest
from schemas.rounds import RoundsSummary, RoundSummary
from schemas.stages import ASSESS, GENERATE, JUDGE, PLAN, SCORE, SELECT


def _settings_line(r: RoundSummary, manifest: Manifest) -> str:
    config = manifest.config
    length, select, assess = config.get(PLAN.section, {}), config.get(SELECT.section, {}), config.get(ASSESS.section, {})
    teacher = config.get(GENERATE.section, {}).get("model")
    scorer = config.get(SCORE.section)
    scorer_model = ((scorer or {}).get("endpoint") or {}).get("model") or teacher
    parts = [f"teacher `{teacher}`", f"policy `{length.get('policy')}`, {length.get('samples')} samples at temperature "
             f"{length.get('temperature')}"]
    if config.get(JUDGE.section) is not None:
        parts.append(f"judge quality ≥ {assess.get('min_quality')}")
    if scorer is not None:
        parts.append(f"chain scorer `{scorer_model}`, chain quality ≥ {select.get('min_chain_quality')}"
                     + (", MPO pairs by score" if select.get("pairs") == "score" else ""))
    return f"- **{r.name}** (iteration {r.iteration}, [card]({r.name}/README.md)): " + "; ".join(parts) + \
           f"; takes {r.takes or 'the base sources'}."


def render_rounds_card(summary: RoundsSummary, manifests: dict[str, Manifest]) -> str:
    """The card text for a rounds output directory."""
    rows = ["| round | takes | read | taken | kept | rescued | dropped | dead-lettered | RL rows | pairs | chains (cached) | "
            "tokens in / out (new) | helper tokens in / out | adds up |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in summary.rounds:
        dropped = ", ".join(f"{k}: {n}" for k, n in r.dropped.items()) or "–"
        dead = ", ".join(f"{k}: {n}" for k, n in r.dead_lettered.items()) or "–"
        helper = "–" if r.helper_tokens_in is None else f"{r.helper_tokens_in} / {r.helper_tokens_out}"
        rows.append(f"| {r.name} | {r.takes or 'sources'} | {r.read} | {'–' if r.taken is None else r.taken} | {r.kept} | "
                    f"{r.rescued} | {dropped} | {dead} | {r.rl_rows} | {r.preference_pairs} | {r.chains} "
                    f"({r.chains_from_cache}) | {r.prompt_tokens} / {r.completion_tokens} | {helper} | {'yes' if r.adds_up() else 'NO'} |")
    scores = sorted({k for r in summary.rounds for k in r.chain_scores}, key=float)
    score_rows = []
    if scores:
        score_rows = ["| round | " + " | ".join(f"score {k}" for k in scores) + " |",
                      "| --- | " + " | ".join("---:" for _ in scores) + " |"]
        score_rows += [f"| {r.name} | " + " | ".join(str(r.chain_scores.get(k, 0)) for k in scores) + " |"
                       for r in summary.rounds]
    settings = [_settings_line(r, manifests[r.name]) for r in summary.rounds if r.name in manifests]
    return "\n".join([
        f"# {summary.name}: {len(summary.rounds)} rounds", "",
        "R1V-style iterative distillation by mmcot: each round is one run with its own teacher, sampling plan and "
        "quality bars; a later round takes an earlier round's problems by outcome (for example those with no correct "
        "chain) and tries again. Each round's folder is a dataset of its own (`load_dataset(\"<dir>/<round>\", \"sft\")`).",
        "", "## Rounds", "", *settings, "", "## Funnel by round", "", *rows, "",
        "`taken` is how many problems the earlier round's manifest counts with the taken outcomes; it equals `read` when "
        "the round adds up. `rescued` counts problems kept here that the earlier round did not keep. Tokens count new "
        "teacher calls only (cached answers are free): the chains', and the judges', repairer's and scorer's (helper).", "",
        f"Problems kept by any round: {summary.kept_total}.", "",
        "## Chain scores by round", "",
        *(score_rows or ["No round scored its chains."]), "",
    ])


def write_rounds_card(output_dir: str, summary: RoundsSummary) -> str:
    """Write ``README.md`` at the rounds output directory; return its path."""
    manifests = {r.name: load_manifest(r.output_dir) for r in summary.rounds}
    fs, root = fsspec.core.url_to_fs(output_dir)
    path = posixpath.join(root, "README.md")
    with fs.open(path, "w") as fh:
        fh.write(render_rounds_card(summary, manifests))
    return path
