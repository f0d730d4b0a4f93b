"""One SFT step and one DPO step with TRL's own trainers and vision collators on a tiny random LLaVA.

    python trl_check.py OUT_DIR WORK_DIR   # prints one JSON object with what it saw

The sets are loaded exactly as the card says (``load_dataset(<dir>, "sft_trl")``,
``load_dataset(<dir>, "preference_trl")``) and handed to the trainers unchanged; every row loaded also goes through
mmcot's row invariant (``transforms/row_invariant.py``), the helper the writer uses.
"""
from __future__ import annotations

import json
import os
import sys

import datasets
import torch
from tiny_vlm import IMAGE_TOKEN, embedded_tokenizer_dir, tiny_model, tiny_processor
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from transforms.row_invariant import violation

COMMON = dict(max_steps=1, per_device_train_batch_size=2, learning_rate=1e-3, report_to=[], save_strategy="no",
              logging_steps=1, use_cpu=True, dataloader_num_workers=0, seed=0)


def first_batch(trainer) -> dict:
    batch = next(iter(trainer.get_train_dataloader()))
    return {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}


def image_token_count(batch: dict, key: str, token_id: int) -> int:
    return int((batch[key] == token_id).sum())


def run(out_dir: str, work: str) -> dict:
    processor = tiny_processor(embedded_tokenizer_dir())
    token_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    report = {}

    sft = datasets.load_dataset(out_dir, "sft_trl", split="train")
    pref = datasets.load_dataset(out_dir, "preference_trl", split="train")
    report["invariant"] = [str(violation(row)) for data in (sft, pref) for row in data if violation(row) is not None]
    trainer = SFTTrainer(model=tiny_model(processor), args=SFTConfig(output_dir=os.path.join(work, "sft"), max_length=None, **COMMON),
                         train_dataset=sft, processing_class=processor)
    batch = first_batch(trainer)
    ids = next(iter(trainer.get_train_dataloader()))["input_ids"]
    result = trainer.train()
    report["sft"] = {"rows": len(sft), "collator": type(trainer.data_collator).__name__, "steps": result.global_step,
                     "loss": result.training_loss, "batch_keys": sorted(batch), "batch_rows": int(ids.shape[0]),
                     "image_tokens": image_token_count(batch, "input_ids", token_id),
                     "pixel_images": int(batch["pixel_values"].shape[0]),
                     "literal_tags": sum(processor.tokenizer.decode(row).count("<image>") for row in ids)}

    trainer = DPOTrainer(model=tiny_model(processor), ref_model=tiny_model(processor),
                         args=DPOConfig(output_dir=os.path.join(work, "dpo"), max_length=None, **COMMON),
                         train_dataset=pref, processing_class=processor)
    batch = first_batch(trainer)
    result = trainer.train()
    report["dpo"] = {"rows": len(pref), "collator": type(trainer.data_collator).__name__, "steps": result.global_step,
                     "loss": result.training_loss, "batch_keys": sorted(batch),
                     "pixel_images": int(batch["pixel_values"].shape[0]) if "pixel_values" in batch else 0,
                     "image_tokens": sum(image_token_count(batch, k, token_id) for k in batch if k.endswith("input_ids")),
                     "images_per_row": [len(r) for r in pref["images"][:2]]}
    return report


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
