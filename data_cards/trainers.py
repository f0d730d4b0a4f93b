"""Which output set each trainer takes, how to load it, and LLaMA-Factory's ``dataset_info.json``.

LLaMA-Factory reads datasets through a ``dataset_info.json`` in its ``dataset_dir``; one is written
into the output directory naming the ``sft`` and ``preference`` sets (sharegpt, ``<image>`` tags), so
``dataset_dir: <output dir>`` with ``dataset: mmcot_sft`` (or ``mmcot_preference``, ``stage: dpo``) trains on it.
"""
from __future__ import annotations

import json
import posixpath

import fsspec

from schemas.manifest import Manifest

DATASET_INFO = "dataset_info.json"
_SHAREGPT_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                  "system_tag": "system"}
LLAMAFACTORY_DATASETS = {
    "mmcot_sft": {"file_name": "sft", "formatting": "sharegpt",
                  "columns": {"messages": "messages", "images": "images"}, "tags": _SHAREGPT_TAGS},
    "mmcot_preference": {"file_name": "preference", "formatting": "sharegpt", "ranking": True,
                         "columns": {"messages": "messages", "chosen": "chosen", "rejected": "rejected", "images": "images"},
                         "tags": _SHAREGPT_TAGS},
}


def dataset_info(manifest: Manifest) -> dict:
    """LLaMA-Factory's dataset entries for the sets this run wrote rows to."""
    return {name: entry for name, entry in LLAMAFACTORY_DATASETS.items() if manifest.rows.get(entry["file_name"])}


def write_dataset_info(out_dir: str, manifest: Manifest) -> str:
    """Write ``dataset_info.json`` into ``out_dir``; return its path."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    path = posixpath.join(root, DATASET_INFO)
    with fs.open(path, "w") as fh:
        fh.write(json.dumps(dataset_info(manifest), indent=2) + "\n")
    return path


TRAINER_NAMES = {"verl": "verl", "trl": "TRL", "llamafactory": "LLaMA-Factory"}
_INTRO = """Each trainer has the set it loads without conversion; a run writes the sets of the trainers in its
`output.trainers` only (each set carries the images). Prompts carry one `<image>` tag per image, in
image order, where the question has its images (`sft`, `preference`, `rl`: verl and LLaMA-Factory split
prompts at these tags); the `_trl` sets hold the same rows with the prompt split at the tags into typed
parts (`{"type": "image"}` / `{"type": "text", "text": ...}`), which TRL's vision collators fill with
`images` in order (a literal `<image>` in TRL's text breaks its processor)."""
_ROWS = (
    ("verl", "| verl (GRPO / PPO) | `rl` | `data.train_files=[<dir>/rl/train-00000-of-…parquet, …] data.prompt_key=prompt "
             "data.image_key=images data.return_raw_chat=True custom_reward_function.path=<mmcot>/transforms/rewards/"
             "verl_reward.py custom_reward_function.name=compute_score`; `data.shuffle=False` to keep the curriculum order |"),
    ("trl", "| TRL `SFTTrainer` | `sft_trl` | `load_dataset(<dir>, \"sft_trl\", split=\"train\")`, a vision model's "
            "`AutoProcessor` as `processing_class`, `SFTConfig(max_length=None)` |"),
    ("trl", "| TRL `DPOTrainer` | `preference_trl` | `load_dataset(<dir>, \"preference_trl\", split=\"train\")`, "
            "`DPOConfig(max_length=None)` |"),
    ("trl", "| TRL `GRPOTrainer` | `rl_trl` | `reward_funcs=[transforms.rewards.trl_reward.accuracy_reward]` "
            "(or `make_reward(format_weight=0.1)`) |"),
    ("llamafactory", "| LLaMA-Factory SFT | `sft` | `dataset_dir: <dir>`, `dataset: mmcot_sft` (from `dataset_info.json`), "
                     "a vision `template` (e.g. `qwen2_vl`) |"),
    ("llamafactory", "| LLaMA-Factory DPO | `preference` | `dataset_dir: <dir>`, `dataset: mmcot_preference`, `stage: dpo` |"),
)
_OUTRO = """mmcot's rewards score with the same verifier that built the data; the answer type, choices and unit come from
`reward_model.ground_truth` and `extra_info`. Optional format credit: `score = (1 - w) * accuracy + w * format`
(format: one non-empty `<think>…</think>` block and a readable answer after it), `w` set by
`+custom_reward_function.reward_kwargs.format_weight=0.1` (verl) or `make_reward(format_weight=0.1)` (TRL); default 0.

**Chat templates can drop the reasoning.** The assistant turns hold the chain as `<think>…</think>` then the
answer. Some chat templates cut everything up to `</think>` from assistant turns when rendering a conversation
(DeepSeek-R1-distill's does), so a model fine-tuned through them
learns answers without reasoning. In TRL set `SFTConfig(assistant_only_loss=True)`: TRL then swaps in its training
version of the template (`{% generation %}` markers), which keeps the `<think>` block; with other trainers check
the rendered text of one example before training."""


def trainers_section(trainers: list[str]) -> str:
    """The card's "Train on it" section for the run's ``trainers`` (``output.trainers``)."""
    rows = [row for trainer, row in _ROWS if trainer in trainers]
    return "\n".join([_INTRO, "", "| trainer | set | how |", "| --- | --- | --- |", *rows, "", _OUTRO])
