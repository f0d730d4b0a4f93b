"""Conversions between mmcot's teacher interface and vLLM's offline engine.

OpenAI-format messages become ``LLM.chat`` conversations whose images are decoded PIL images
(``image_pil`` parts, which vLLM turns into the prompt's ``multi_modal_data`` in placeholder
order), so the engine thread never decodes base64; a plan and an optional ``response_format``
become one request's ``SamplingParams`` (``n`` samples); a ``RequestOutput`` becomes a :class:`Completion` per
sample (its log probabilities in the OpenAI chat shape, which the reply gate reads as it reads a server's).
"""
from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image
from vllm import CompletionOutput, RequestOutput, SamplingParams
from vllm.sampling_params import StructuredOutputsParams

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError, sampling_fields
from transforms.teachers.logprob_gate import FLOOR


def decode_data_url(url: str) -> Image.Image:
    """The image in a ``data:image/…;base64,…`` URL, fully loaded."""
    header, sep, payload = url.partition(",")
    if not (sep and header.startswith("data:image/") and header.endswith(";base64")):
        raise TeacherError("bad_request", f"the in-process engine takes image data URLs only, got {url[:40]!r}")
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image


def engine_conversation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every ``image_url`` data-URL part replaced by an ``image_pil`` part (order kept)."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_pil", "image_pil": decode_data_url(part["image_url"]["url"])}
                if part.get("type") == "image_url" else part
                for part in content
            ]
        out.append({**message, "content": content})
    return out


def structured_outputs(response_format: dict[str, Any] | None) -> StructuredOutputsParams | None:
    """vLLM's constraint for an OpenAI ``response_format`` (``json_schema``, ``json_object`` or ``text``)."""
    kind = (response_format or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return StructuredOutputsParams(json_object=True)
    if kind == "json_schema":
        return StructuredOutputsParams(json=response_format["json_schema"]["schema"])
    raise TeacherError("bad_request", f"unsupported response_format type {kind!r}")


def sampling_params(plan: SamplingPlan, response_format: dict[str, Any] | None, seed: int | None,
                    n: int = 1, logprobs: int | None = None) -> SamplingParams:
    """One request's SamplingParams for ``n`` samples: the plan's settings, the output constraint, a seed only when
    given (vLLM seeds the request's i-th sample with ``seed + i``), ``logprobs`` alternatives per token when asked for."""
    return SamplingParams(n=n, seed=seed, structured_outputs=structured_outputs(response_format), logprobs=logprobs,
                          **sampling_fields(plan))


def chat_logprobs(sample: CompletionOutput, top: int) -> dict[str, Any] | None:
    """The sample's log probabilities in the OpenAI chat shape the reply gate reads: per position the sampled token
    and the ``top`` alternatives of rank 1 to ``top`` (the engine adds the sampled token when it ranks lower), minus
    infinity as the gate's floor (as vLLM's server sends it). None when the engine returned none."""
    if sample.logprobs is None:
        return None
    content = []
    for token_id, position in zip(sample.token_ids, sample.logprobs):
        chosen = position.get(token_id)
        ranked = sorted((lp for lp in position.values() if lp.rank is not None and lp.rank <= top), key=lambda lp: lp.rank)
        content.append({
            "token": chosen.decoded_token if chosen is not None else None,
            "logprob": max(chosen.logprob, FLOOR) if chosen is not None else None,
            "top_logprobs": [{"token": lp.decoded_token, "logprob": max(lp.logprob, FLOOR)} for lp in ranked],
        })
    return {"content": content}


def to_completions(output: RequestOutput, latency_s: float, logprobs: int | None = None) -> list[Completion]:
    """Every sample of ``output``, in index order, with its finish reason, token counts and (``logprobs``: the top
    count asked for) log probabilities."""
    prompt_tokens = len(output.prompt_token_ids or ())
    return [
        Completion(
            content=sample.text,
            reasoning=None,
            finish_reason=sample.finish_reason or "unknown",
            prompt_tokens=prompt_tokens,
            completion_tokens=len(sample.token_ids),
            latency_s=latency_s,
            logprobs=None if logprobs is None else chat_logprobs(sample, logprobs),
        )
        for sample in sorted(output.outputs, key=lambda sample: sample.index)
    ]
