"""Run in the LLaMA-Factory venv: its own loader, converter and SFT / pairwise processors over the output.

    python llamafactory_check.py OUT_DIR WORK_DIR   # prints one JSON object with what it saw

The run's ``dataset_info.json`` is used as written (``dataset_dir`` = the output directory, datasets
``mmcot_sft`` and ``mmcot_preference``); the model directory is a tiny LLaVA (config + processor)
saved locally, loaded through LLaMA-Factory's ``load_tokenizer``; template ``llava``. Every row of each set it
loads also goes through mmcot's row invariant (``transforms/row_invariant.py``), the helper the writer uses.
"""
from __future__ import annotations

import json
import os
import sys

import datasets
from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
from llamafactory.hparams import get_train_args
from llamafactory.model import load_tokenizer
from tiny_vlm import embedded_tokenizer_dir, tiny_processor

from transforms.row_invariant import violation

IMAGE_TOKEN = "<image>"  # what LLaMA-Factory's llava template expands each <image> tag into


def save_tiny_model_dir(path: str) -> str:
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    processor = tiny_processor(embedded_tokenizer_dir(), image_token=IMAGE_TOKEN)
    processor.save_pretrained(path)
    tok = processor.tokenizer
    LlavaConfig(vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                               image_size=28, patch_size=14),
                text_config=LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1),
                image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN)).save_pretrained(path)
    return path


def load(out_dir: str, model_dir: str, work: str, dataset: str, stage: str) -> dict:
    args = {"model_name_or_path": model_dir, "stage": stage, "do_train": True, "finetuning_type": "lora",
            "dataset_dir": out_dir, "dataset": dataset, "template": "llava", "cutoff_len": 2048,
            "output_dir": os.path.join(work, stage), "overwrite_cache": True, "preprocessing_num_workers": None,
            "report_to": "none", "use_cpu": True}
    model_args, data_args, training_args, _finetuning_args, _ = get_train_args(args)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    module = get_dataset(template, model_args, data_args, training_args, stage=stage, **tokenizer_module)
    train = module["train_dataset"]
    with open(os.path.join(out_dir, "dataset_info.json")) as fh:
        info = json.load(fh)[dataset]
    raw = datasets.load_dataset("parquet", data_files=os.path.join(out_dir, info["file_name"], "*.parquet"), split="train")
    image_id = tokenizer_module["tokenizer"].convert_tokens_to_ids(IMAGE_TOKEN)
    id_keys = [k for k in train.column_names if k.endswith("input_ids")]
    return {"examples": len(train), "columns": train.column_names, "rows": len(raw),
            "invariant": [str(violation(row)) for row in raw if violation(row) is not None],
            "image_tokens": {k: [row.count(image_id) for row in train[k]] for k in id_keys},
            "images": [len(x or []) for x in train["images"]]}


def main(out_dir: str, work: str) -> None:
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")  # the venv keeps llamafactory's pins; its runtime check is redundant
    model_dir = save_tiny_model_dir(os.path.join(work, "tiny-llava"))
    print(json.dumps({"sft": load(out_dir, model_dir, work, "mmcot_sft", "sft"),
                      "preference": load(out_dir, model_dir, work, "mmcot_preference", "rm")}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
