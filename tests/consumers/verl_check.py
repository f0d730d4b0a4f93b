"""Run in the verl venv: verl's own RLHFDataset over ``rl/`` and verl's reward loading over mmcot's compute_score.

    python verl_check.py OUT_DIR   # prints one JSON object with what it saw

For every RLHFDataset item: the images in its raw prompt (verl splits the prompt at ``<image>`` and
asserts one image per tag) equal the row's images, and verl's ``build_multimodal_processor_inputs``
gives the processor's image tokens for each of them. verl resizes images with ``qwen_vl_utils``
before that (in its prompt-length filter and its rollout); ``qwen_vl_utils`` imports torchvision,
whose PyPI build needs CUDA's libraries, so here the length filter is off and the images verl put
into the raw prompt go to the processor as they are. The reward is
loaded the way verl's trainer loads it (``get_custom_reward_fn`` on a ``custom_reward_function``
config) and called the way its naive reward manager calls it, over every chain of every RL problem. Every row
of ``rl/`` also goes through mmcot's row invariant (``transforms/row_invariant.py``), the helper the writer uses.
"""
from __future__ import annotations

import glob
import json
import os
import sys
import tempfile

import pyarrow.parquet as pq
from omegaconf import OmegaConf
from tiny_vlm import IMAGE_TOKEN, embedded_tokenizer_dir, tiny_processor
from verl.trainer.ppo.reward import get_custom_reward_fn
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.utils.tokenizer import build_multimodal_processor_inputs

import transforms.rewards.verl_reward as mmcot_reward
from transforms.row_invariant import violation


def dataset_items(out_dir: str, processor) -> list[dict]:
    files = sorted(glob.glob(os.path.join(out_dir, "rl", "*.parquet")))
    config = OmegaConf.create({"prompt_key": "prompt", "image_key": "images", "max_prompt_length": 4096,
                               "filter_overlong_prompts": False,
                               "cache_dir": tempfile.mkdtemp(prefix="verl-cache-")})
    dataset = RLHFDataset(data_files=files, tokenizer=processor.tokenizer, config=config, processor=processor)
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    image_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    items = []
    for i in range(len(dataset)):
        item = dataset[i]
        messages = item["raw_prompt"]
        parts = [p for m in messages for p in (m["content"] if isinstance(m["content"], list) else [])]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        images = [p["image"] for p in parts if p["type"] == "image"]
        inputs = build_multimodal_processor_inputs(processor, text=[text], images=images)
        items.append({"index": int(item["index"]), "data_source": item["data_source"],
                      "row_images": len(rows[i]["images"]), "image_parts": sum(p["type"] == "image" for p in parts),
                      "literal_tags_left": sum(p.get("text", "").count("<image>") for p in parts if p["type"] == "text"),
                      "image_tokens": sum(int(t == image_id) for t in list(inputs["input_ids"][0])),
                      "ground_truth": item["reward_model"]["ground_truth"], "extra": item["extra_info"]})
    return items


def rewards(out_dir: str, items: list[dict], reward_kwargs: dict) -> list[dict]:
    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": mmcot_reward.__file__, "name": "compute_score", "reward_kwargs": reward_kwargs}}})
    compute_score = get_custom_reward_fn(config)
    generations = [r for f in sorted(glob.glob(os.path.join(out_dir, "generations", "*.parquet")))
                   for r in pq.read_table(f).to_pylist()]
    by_problem = {item["extra"]["id"]: item for item in items}
    scored = []
    for g in generations:
        item = by_problem.get(g["problem_id"])
        if item is None:
            continue
        extra = {**item["extra"], "num_turns": None, "rollout_reward_scores": {}}  # what the naive manager adds
        result = compute_score(data_source=item["data_source"], solution_str=g["content"],
                               ground_truth=item["ground_truth"], extra_info=extra)
        scored.append({"problem_id": g["problem_id"], "sample": g["sample_index"], "verdict": g["verdict"]["correct"],
                       "score": result["score"], "acc": result["acc"], "format": result["format"]})
    return scored


def main(out_dir: str) -> None:
    processor = tiny_processor(embedded_tokenizer_dir())
    items = dataset_items(out_dir, processor)
    other = get_custom_reward_fn(OmegaConf.create({"reward": {"custom_reward_function": {
        "path": mmcot_reward.__file__, "name": "compute_score"}}}))(
        data_source="openai/gsm8k", solution_str="so the total is #### 7", ground_truth="7", extra_info={})
    rows = [r for f in sorted(glob.glob(os.path.join(out_dir, "rl", "*.parquet"))) for r in pq.read_table(f).to_pylist()]
    print(json.dumps({
        "invariant": [str(violation(r)) for r in rows if violation(r) is not None],  # mmcot's row invariant, same helper
        "items": [{k: v for k, v in i.items() if k != "extra"} for i in items],
        "rewards": rewards(out_dir, items, {}),
        "rewards_format": rewards(out_dir, items, {"format_weight": 0.1}),
        "gsm8k_score": other,
    }, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
