"""A tiny Idefics3 processor built in the test process: a byte-level tokenizer (every byte one token, so text and
newlines count the way real tokenizers count them) with the plumbing teacher's image tokens and chat template, and
transforms' Idefics3 image processor at a small size. Nothing is downloaded and no model is built."""
from __future__ import annotations

from pathlib import Path

from pipelines.vision_teacher import CHAT_TEMPLATE, IMAGE_TOKENS

IMAGE_SEQ_LEN = 4
TILE = 32  # max_image_size: the side of a tile (and, without splitting, of every image)
LONGEST = 96  # size.longest_edge: images are resized to this before they are split


def tiny_processor(splitting: bool):
    """An Idefics3Processor whose image tokens depend on the image's size when ``splitting`` (tiles of 32 px),
    and are always ``IMAGE_SEQ_LEN`` + 3 otherwise."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Idefics3Processor, PreTrainedTokenizerFast
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    byte_level = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))},
                                      merges=[]))
    byte_level.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    byte_level.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=byte_level)
    tokenizer.add_special_tokens({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
                                  "additional_special_tokens": ["<|im_start|>", "<|im_end|>", *IMAGE_TOKENS]})
    images = Idefics3ImageProcessorPil(do_image_splitting=splitting, size={"longest_edge": LONGEST},
                                       max_image_size={"longest_edge": TILE})
    return Idefics3Processor(image_processor=images, tokenizer=tokenizer, image_seq_len=IMAGE_SEQ_LEN,
                             chat_template=CHAT_TEMPLATE)


def save_tiny_processor(directory: Path, splitting: bool) -> str:
    """Write the tiny processor to ``directory`` (as a model directory holds it); its path."""
    tiny_processor(splitting).save_pretrained(directory)
    return str(directory)
