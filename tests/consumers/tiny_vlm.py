"""A tiny random LLaVA, built locally: the embedded teacher's tokenizer, a CLIP vision tower, a Llama text model.

LLaVA because verl, TRL and LLaMA-Factory all take it and its PIL image processor needs no
torchvision (Qwen2-VL's processor wants a video processor, which does). The image token is
``<|image_pad|>``, not LLaVA's default ``<image>``, so a literal ``<image>`` left in a TRL prompt
is just text and the tests can tell it from a real image slot. The weights are random (about a
hundred thousand parameters plus the embeddings): the tests check that the trainers take the data,
not what a model learns. Importable from any of the test venvs.
"""
from __future__ import annotations

from pathlib import Path

IMAGE_TOKEN = "<|image_pad|>"
IMAGE_SIDE, PATCH = 28, 14  # 2x2 patches: 4 image tokens per image

# LLaVA-style template over typed content parts or plain strings
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|image_pad|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def embedded_tokenizer_dir() -> Path:
    """The embedded teacher's model directory (its tokenizer is the one the tests build on)."""
    from pipelines.teacher_server import prepare_embedded_teacher

    return Path(prepare_embedded_teacher())


def tiny_processor(tokenizer_dir: str | Path, image_token: str = IMAGE_TOKEN):
    """A LlavaProcessor: the embedded model's tokenizer with ``image_token``, images resized to 28x28."""
    from transformers import AutoTokenizer, LlavaProcessor

    try:
        from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil as ImageProcessor
    except ImportError:  # older transformers: the PIL processor is CLIP's
        from transformers import CLIPImageProcessor as ImageProcessor

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    template = CHAT_TEMPLATE.replace(IMAGE_TOKEN, image_token)
    tokenizer.add_special_tokens({"additional_special_tokens": [image_token]})
    tokenizer.chat_template = template
    image_processor = ImageProcessor(size={"shortest_edge": IMAGE_SIDE}, crop_size={"height": IMAGE_SIDE, "width": IMAGE_SIDE})
    return LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=PATCH,
                          vision_feature_select_strategy="default", num_additional_image_tokens=1,
                          image_token=image_token, chat_template=template)


def tiny_model(processor):
    """A randomly initialised LLaVA with one text and one vision layer, sized to the processor's vocabulary."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    tok = processor.tokenizer
    text = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=1, max_position_embeddings=4096, pad_token_id=tok.pad_token_id,
                       eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=IMAGE_SIDE, patch_size=PATCH, projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=tok.convert_tokens_to_ids(processor.image_token),
                         vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(0)
    return LlavaForConditionalGeneration(config)
