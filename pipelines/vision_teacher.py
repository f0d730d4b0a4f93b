"""The plumbing vision teacher: a model of SmolVLM-256M's shape built from the embedded teacher, offline.

SmolVLM-256M is Idefics3's architecture around SmolLM2-135M, the embedded teacher. Its text half
is copied here from the embedded teacher's weights; the SigLIP-style vision tower (image 512, patch
16: 1024 patches) and the pixel-shuffle connector (scale factor 4: 64 image tokens per image) are
initialised from a fixed seed, each tensor from its own generator seeded by its name, so the build
is the same bytes every time and does not depend on the order modules are created in. The
tokenizer gains Idefics3's image tokens (their embedding rows are the mean of the others, so the
text half rarely writes them); the processor is transformers' Idefics3 processor configured
here (no image splitting: every image becomes 512 x 512 and 64 tokens plus 3 around them); the
chat template is SmolLM2's ChatML with image parts placed where they occur.

The vision tower is untrained: the model's answers change with the pixels but mean nothing. It
exercises every byte of the image path through the real vLLM processor and engine, never quality.
"""
from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path

from pipelines.embedded_teacher import COMPLETE_MARKER, EMBEDDED_MODEL_NAME, prepare_cached, prepare_embedded_teacher

log = logging.getLogger(__name__)

VISION_MODEL_NAME = "smolvlm-256m-plumbing"
SEED = 0
# SmolVLM-256M's vision half: SigLIP base, patch 16 at 512 px, pixel shuffle by 4.
IMAGE_SIZE, PATCH_SIZE, SCALE_FACTOR = 512, 16, 4
IMAGE_SEQ_LEN = (IMAGE_SIZE // PATCH_SIZE) ** 2 // SCALE_FACTOR**2
VISION_TOWER = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
                "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE}
INIT_STD = 0.02
IMAGE_TOKEN = "<image>"
# Idefics3's prompt tokens around an image (the processor adds the first three) and for split images.
IMAGE_TOKENS = ["<fake_token_around_image>", IMAGE_TOKEN, "<end_of_utterance>", "<global-img>",
                *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7))]

# SmolLM2-Instruct's ChatML, with a message's content either a string or typed parts (text, image).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '" + IMAGE_TOKEN + "' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CARD = f"""\
# {VISION_MODEL_NAME}: the vision tower is untrained — this model tests plumbing only, never quality.

Built offline by `mmcot teacher prepare --vision` from the embedded teacher ({EMBEDDED_MODEL_NAME}),
in SmolVLM-256M's shape (Idefics3ForConditionalGeneration):

- text half: {EMBEDDED_MODEL_NAME}'s weights, unchanged; the embedding gains Idefics3's image tokens
  (rows set to the mean embedding);
- vision tower: SigLIP-style, {VISION_TOWER['num_hidden_layers']} layers of {VISION_TOWER['hidden_size']}, image
  {IMAGE_SIZE} px, patch {PATCH_SIZE}, initialised from seed {SEED} (normal, std {INIT_STD}; norms 1, biases 0);
- connector: pixel shuffle by {SCALE_FACTOR} and a linear projection (same initialisation):
  {IMAGE_SEQ_LEN} image tokens per image (+3 around it), no image splitting;
- processor: transformers' Idefics3 processor (images resized to {IMAGE_SIZE} x {IMAGE_SIZE});
- chat template: SmolLM2's ChatML with image parts placed where they occur.

What it proves: requests with images go through vLLM's real multimodal processor and engine (image
token budgets, per-prompt image limits, data URLs, image order). Its answers change with the pixels
and mean nothing: never use its output as data, judgements or scores.
"""


def _tensor_init(name: str, shape: tuple[int, ...]):
    """The untrained tensor ``name``: norms 1, biases 0, the rest normal(0, INIT_STD) from a generator seeded by the name."""
    import torch

    if name.endswith("norm.weight") or name.endswith(("layer_norm1.weight", "layer_norm2.weight")):
        return torch.ones(shape)
    if name.endswith(".bias"):
        return torch.zeros(shape)
    generator = torch.Generator().manual_seed(SEED * 2**32 + zlib.crc32(name.encode()))
    return torch.randn(shape, generator=generator) * INIT_STD


def _processor(text_dir: Path):
    """Idefics3's processor over the embedded teacher's tokenizer with the image tokens added."""
    from transformers import AutoTokenizer, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(str(text_dir))
    tokenizer.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS})
    side = {"longest_edge": IMAGE_SIZE}
    image_processor = Idefics3ImageProcessorPil(do_image_splitting=False, size=side, max_image_size=side,
                                                image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=IMAGE_SEQ_LEN,
                             chat_template=CHAT_TEMPLATE)


def _config(text_dir: Path, tokenizer):
    """Idefics3's config: the embedded teacher's text config (vocabulary grown) and SmolVLM-256M's vision tower."""
    from transformers import Idefics3Config

    text = json.loads((text_dir / "config.json").read_text())
    text["vocab_size"] = len(tokenizer)
    config = Idefics3Config(text_config=text, vision_config=VISION_TOWER, scale_factor=SCALE_FACTOR,
                            image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
                            tie_word_embeddings=bool(text.get("tie_word_embeddings", False)),
                            pad_token_id=tokenizer.pad_token_id)
    config.architectures = ["Idefics3ForConditionalGeneration"]
    return config


def _weights(text_dir: Path, config) -> dict:
    """Every tensor of the model: the text half from the embedded teacher, the vision half untrained."""
    import torch
    from safetensors.torch import load_file
    from transformers import Idefics3ForConditionalGeneration

    with torch.device("meta"):  # names and shapes only
        shapes = {name: tuple(t.shape) for name, t in Idefics3ForConditionalGeneration(config).state_dict().items()}
    if config.tie_word_embeddings:
        shapes.pop("lm_head.weight")
    text = load_file(str(text_dir / "model.safetensors"))
    tensors = {}
    for name, shape in sorted(shapes.items()):
        if name.startswith("model.text_model."):
            tensor = text["model." + name.removeprefix("model.text_model.")]
            if name.endswith("embed_tokens.weight"):
                extra = shape[0] - tensor.shape[0]
                tensor = torch.cat([tensor, tensor.mean(0, keepdim=True).expand(extra, -1)])
        else:
            tensor = _tensor_init(name, shape)
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name}: the embedded teacher's tensor is {tuple(tensor.shape)}, the model wants {shape}")
        tensors[name] = tensor.contiguous()
    return tensors


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def build_vision_model(text_dir: Path, out_dir: Path) -> None:
    """Write the plumbing vision teacher into the empty ``out_dir`` from the embedded teacher at ``text_dir``."""
    from safetensors.torch import save_file

    log.info("Building %s from %s (untrained vision tower: plumbing tests only)", VISION_MODEL_NAME, text_dir)
    processor = _processor(text_dir)
    config = _config(text_dir, processor.tokenizer)
    save_file(_weights(text_dir, config), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    (out_dir / "README.md").write_text(CARD)
    _write_json(out_dir / COMPLETE_MARKER, {"built_from": EMBEDDED_MODEL_NAME, "seed": SEED})


def prepare_vision_teacher(home: Path | None = None, force: bool = False) -> Path:
    """The plumbing vision teacher's directory, built once (from the embedded teacher, prepared first if needed)."""
    text_dir = prepare_embedded_teacher(home)
    return prepare_cached(VISION_MODEL_NAME, lambda staging: build_vision_model(text_dir, staging), home, force)
