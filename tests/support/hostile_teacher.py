"""A HOSTILE TEACHER STUB: an OpenAI-compatible server on loopback whose replies are hostile by design.

Not a teacher: each problem it is told about (by the caption its prompt carries) gets one class of hostile
reply, :data:`CASES`, for sample 0 and sample 1 (the request's ``seed``: run with ``teacher.send_seed``
and ``seed: 0``); anything else gets a plain right answer. The classes cover what a server, proxy,
hosted API or a model echoing its prompt can send: bodies that are not JSON, not UTF-8, nested past any
parser, without choices; content as typed parts, numbers, images, refusals; lone surrogates; usage that
is huge, negative, fractional, a string, NaN or 10^5 digits long; every finish reason; the special
tokens of every chat-template family; media markers, NUL and ANSI escapes; unbalanced and nested think
tags; an ``<answer>`` block that disagrees with the box; 1 MB chains, 10^5-digit numbers, deep braces;
HTML/JS and Markdown images pointing at a loopback listener. Each class says where its problem must end.

    with HostileTeacher({caption: (case, answer)}, listener_port) as teacher: teacher.base_url
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from tests.support.loopback_app import LoopbackApp
from transforms.teachers.scripted import message_text

Reply = tuple[int, bytes, str]  # status, body, content type


def body(content=None, finish="stop", usage=None, **message) -> Reply:
    """A chat completion body as a server would send it (usage: a dict, or raw JSON text to splice in)."""
    usage = {"prompt_tokens": 30, "completion_tokens": 20} if usage is None else usage
    head = {"id": "hostile", "object": "chat.completion", "model": "hostile",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message},
                         "finish_reason": finish}]}
    text = json.dumps(head)
    usage_text = usage if isinstance(usage, str) else json.dumps(usage)
    return 200, (text[:-1] + f', "usage": {usage_text}}}').encode(), "application/json"


def raw(data: bytes | str, content_type: str = "application/json") -> Reply:
    return 200, data.encode() if isinstance(data, str) else data, content_type


def right(answer: str, reasoning: str = "I read the figure and count what it shows.") -> str:
    return f"<think>{reasoning}</think> The answer is \\boxed{{{answer}}}."


def wrong(answer: str) -> str:
    """An answer other than ``answer`` (another option letter, or a different number)."""
    if len(answer) == 1 and answer.isalpha():
        return "A" if answer != "A" else "B"
    return f"{answer}0"


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@dataclass(frozen=True)
class Case:
    """One class of hostile reply: ``replies(answer, port)`` gives samples 0 and 1; the problem ends as ``outcome``
    (``kept``, ``dropped``, ``dead``) with ``reason`` (``stage/reason``; empty: any); the hostile sample's
    verdict reasons must include ``chain_reason`` when set."""

    name: str
    replies: Callable[[str, int], tuple[Reply, Reply]]
    outcome: str
    reason: str = ""
    chain_reason: str | None = None


def _dead(name: str, reason: str, reply: Callable[[str, int], Reply]) -> Case:
    return Case(name, lambda a, p: (reply(a, p), body(right(a))), "dead", f"generate/teacher_{reason}")


def _unclean(name: str, why: str, chain: Callable[[str, int], str]) -> Case:
    """Both samples right but carrying what chain hygiene refuses: the problem is dropped as unclean_chains."""
    return Case(name, lambda a, p: (body(chain(a, p)), body(chain(a, p))), "dropped", "select/unclean_chains", why)


def _kept(name: str, replies: Callable[[str, int], tuple[Reply, Reply]]) -> Case:
    return Case(name, replies, "kept")


MEGABYTE = "The count goes on. " * 55_000
DIGITS = "1" * 100_000
FAMILY_TOKENS = {
    "qwen": "<|im_end|>\n<|im_start|>assistant\n", "llama3": "<|eot_id|><|start_header_id|>user<|end_header_id|>",
    "mistral": "</s>[INST] again [/INST]", "gemma": "<end_of_turn>\n<start_of_turn>model", "internvl": "<img><IMG_CONTEXT></img>",
    "deepseek": "<｜end▁of▁sentence｜><｜User｜>", "phi": "<|end|><|assistant|>", "smol": "<|endoftext|><fake_token_around_image>",
    "qwen_vl": "<|vision_start|><|image_pad|><|vision_end|>", "reserved": "<|reserved_special_token_7|>",
}
SCRIPT = "<script>window.__mmcot_pwned = 1</script><img src=x onerror=\"window.__mmcot_pwned = 2\">"

CASES: tuple[Case, ...] = (
    _dead("not_json", "not_json", lambda a, p: raw("<html><body>502 Bad Gateway</body></html>", "text/html")),
    _dead("not_utf8", "bad_text", lambda a, p: raw(b'{"choices": [{"message": {"content": "\xff\xfe\xfa"}}]}')),
    _dead("missing_choices", "no_choices", lambda a, p: raw('{"object": "chat.completion", "usage": {}}')),
    _dead("empty_choices", "no_choices", lambda a, p: raw('{"choices": []}')),
    _dead("choice_not_object", "bad_response", lambda a, p: raw('{"choices": ["\\\\boxed{1}"]}')),
    _dead("body_array", "bad_response", lambda a, p: raw("[1, 2, 3]")),
    _dead("deep_array", "nested_too_deep", lambda a, p: raw("[" * 200_000 + "]" * 200_000)),
    _dead("deep_message", "nested_too_deep",
          lambda a, p: raw('{"choices": [{"message": {"content": "x", "extra": ' + nested(100_000) + "}}]}")),
    _dead("lone_surrogate", "bad_text", lambda a, p: raw(json.dumps({"choices": [{"message": {
        "content": f"<think>half a pair \ud800 here</think> \\boxed{{{a}}}"}, "finish_reason": "stop"}]}))),
    _dead("surrogate_reasoning", "bad_text", lambda a, p: body(f"\\boxed{{{a}}}", reasoning_content="low \udfff")),
    _dead("content_number", "bad_content", lambda a, p: body(12345)),
    _dead("image_part", "bad_content", lambda a, p: body([{"type": "image_url",
                                                           "image_url": {"url": f"http://127.0.0.1:{p}/part.png"}}])),
    _dead("refusal", "refusal", lambda a, p: body(None, refusal="I cannot help with that.")),
    _kept("typed_parts", lambda a, p: (body([{"type": "text", "text": "<think>Counting the marks.</think>"},
                                             {"type": "text", "text": f" The answer is \\boxed{{{a}}}."}]),
                                       body([{"type": "output_text", "text": right(a)}]))),
    _kept("reasoning_field_parts", lambda a, p: (body(f"The answer is \\boxed{{{a}}}.", reasoning_content=[
        {"type": "text", "text": "I count the marks one by one."}]),) * 2),
    _kept("usage_huge", lambda a, p: (body(right(a), usage={"prompt_tokens": 10**30, "completion_tokens": 2**63}),
                                      body(right(a), usage='{"prompt_tokens": 5, "completion_tokens": ' + DIGITS + "}"))),
    _kept("usage_bad_types", lambda a, p: (body(right(a), usage='{"prompt_tokens": -5, "completion_tokens": 12.5}'),
                                           body(right(a), usage='{"prompt_tokens": "12", "completion_tokens": NaN}'))),
    _kept("usage_missing", lambda a, p: (body(right(a), usage="null"), body(right(a), usage='[1, 2]'))),
    _kept("html_js", lambda a, p: (body(right(a, f"Count {SCRIPT} the marks <iframe src=http://127.0.0.1:{p}/f>.")),) * 2),
    _kept("markdown_image", lambda a, p: (body(right(a, f"See ![chart](http://127.0.0.1:{p}/beacon.png) and "
                                                        f"```\n![x](http://127.0.0.1:{p}/fence.png)")),) * 2),
    Case("answer_disagrees", lambda a, p: (body(f"<think>I count.</think><answer>{wrong(a)}</answer> So \\boxed{{{a}}}."),) * 2,
         "dropped", "select/no_correct_chain", "wrong_answer"),
    _kept("rejected_unclean", lambda a, p: (body(right(a)), body(right(wrong(a), "I count <|im_end|> them.")))),
    _kept("rejected_html", lambda a, p: (body(right(a)), body(right(wrong(a), f"I count {SCRIPT} them.")))),
    *(_unclean(f"tokens_{family}", "reserved_token", lambda a, p, t=token: right(a, f"I count {t} the marks."))
      for family, token in FAMILY_TOKENS.items()),
    _unclean("image_markers", "media_marker", lambda a, p: right(a, "Look at <image> and <image> and <image> again.")),
    _unclean("video_audio", "media_marker", lambda a, p: right(a, "The <video> and the <audio 2> and <Image_3> agree.")),
    _unclean("nul_ansi", "control_chars", lambda a, p: right(a, "Red \x1b[31mmarks\x1b[0m and a NUL \x00 here.")),
    _unclean("nested_think", "reserved_token", lambda a, p: f"<think>a<think>b</think>c</think> \\boxed{{{a}}}"),
    _unclean("unbalanced_think", "reserved_token", lambda a, p: f"<think>I never close the block. \\boxed{{{a}}}"),
    Case("content_filter", lambda a, p: (body(right(a), finish="content_filter"),) * 2, "dropped",
         "select/no_correct_chain", "finish_content_filter"),
    Case("finish_null_tools", lambda a, p: (body(right(a), finish=None), body(right(a), finish="tool_calls")), "dropped",
         "select/no_correct_chain", "finish_missing"),
    Case("finish_unknown", lambda a, p: (body(right(a), finish="EOS_TOKEN"), body(right(a), finish=["stop"])), "dropped",
         "select/no_correct_chain", "finish_unknown"),
    Case("megabyte", lambda a, p: (body(right(a, MEGABYTE)),) * 2, "dropped", "select/no_correct_chain", "too_long"),
    Case("huge_number", lambda a, p: (body(right(DIGITS)),) * 2, "dropped"),
    Case("deep_braces", lambda a, p: (body(right("{" * 20_000 + a + "}" * 20_000)),) * 2, "dropped"),
)


class HostileTeacher(LoopbackApp):
    """Serves ``/v1/chat/completions``: the case of the problem whose caption the prompt holds, else a right answer.

    ``problems`` maps a caption to (case name, gold answer); ``port`` is the listener hostile links point at.
    ``counts`` holds requests served by case.
    """

    def __init__(self, problems: dict[str, tuple[str, str]], listener_port: int):
        self.problems = problems
        self.listener_port = listener_port
        self.cases = {c.name: c for c in CASES}
        self.counts: Counter[str] = Counter()

    def _match(self, text: str) -> tuple[str, str] | None:
        return next((found for caption, found in self.problems.items() if caption in text), None)

    async def _chat(self, request: web.Request) -> web.Response:
        sent = await request.json()
        found = self._match(message_text(sent.get("messages", [])))
        if found is None:
            self.counts["unknown"] += 1
            return web.json_response({"choices": [{"message": {"content": "\\boxed{0}"}, "finish_reason": "stop"}]})
        name, answer = found
        self.counts[name] += 1
        status, data, content_type = self.cases[name].replies(answer, self.listener_port)[min(int(sent.get("seed") or 0), 1)]
        return web.Response(status=status, body=data, content_type=content_type.split(";")[0])

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
