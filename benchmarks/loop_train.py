"""The closed loop's trainer: supervised fine-tuning of a text student with TRL's ``SFTTrainer`` on the CPU.

    python -m benchmarks.loop_train --rows ROWS.jsonl --base MODEL_DIR --out OUT_DIR [--steps 10 --batch 8 ...]

``ROWS.jsonl`` holds TRL's conversational prompt-completion rows (``prompt``: the user turn,
``completion``: the assistant turn), so the loss counts the completion's tokens only. Full
fine-tuning (every weight; no adapter library needed) with AdamW, a linear decay after a short
warm-up, and a fixed budget of ``steps`` x ``batch`` examples whatever the set's size: a set
smaller than that is repeated (epochs), a larger one is sampled, in an order set by ``seed``, so
every arm of an ablation trains on the same number of examples. Autocast to bfloat16 on CPUs that
have it (the weights stay float32). The result is saved as vLLM loads a model directory:
``model.safetensors``, ``config.json``, the tokenizer with its chat template, the generation config.

Prints one JSON object: rows, steps, examples and completion tokens trained on, first and last loss, seconds.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

STEPS = 12
BATCH = 8
LEARNING_RATE = 1e-4
WARMUP_STEPS = 1
MAX_LENGTH = 512
SEED = 0


def read_rows(path: Path) -> list[dict]:
    """The prompt-completion rows of a JSONL file."""
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def train(rows: list[dict], base: Path, out: Path, steps: int = STEPS, batch: int = BATCH, learning_rate: float = LEARNING_RATE,
          seed: int = SEED, bf16: bool = True) -> dict:
    """Fine-tune ``base`` on ``rows`` for ``steps`` steps of ``batch`` rows; save the model to ``out``; what it did."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise ValueError("no rows to train on")
    set_seed(seed)
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = SFTConfig(output_dir=str(out.parent / f"{out.name}.trainer"), max_steps=steps, per_device_train_batch_size=batch,
                       learning_rate=learning_rate, lr_scheduler_type="linear", warmup_steps=WARMUP_STEPS,
                       weight_decay=0.0, max_length=MAX_LENGTH, seed=seed, data_seed=seed, use_cpu=True, bf16=bf16,
                       logging_steps=1, save_strategy="no", report_to=[], dataloader_num_workers=0,
                       completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tokenizer)
    completion_tokens = sum(sum(label != -100 for label in labels) for labels in trainer.train_dataset["labels"])
    all_tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    result = trainer.train()
    trainer.save_model(str(out))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {"rows": len(rows), "steps": result.global_step, "examples": result.global_step * batch,
            "completion_tokens_per_epoch": int(completion_tokens), "tokens_per_epoch": int(all_tokens),
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "learning_rate": learning_rate, "batch": batch, "seed": seed, "bf16": bf16,
            "seconds": round(time.monotonic() - started, 1)}


def bf16_available() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX); else autocast would only emulate it."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True, help="the base model's directory")
    parser.add_argument("--out", type=Path, required=True, help="where the fine-tuned model is saved")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    report = train(read_rows(args.rows), args.base, args.out, args.steps, args.batch, args.learning_rate, args.seed,
                   bf16=bf16_available())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
