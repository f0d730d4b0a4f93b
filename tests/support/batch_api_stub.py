"""A STUB of the OpenAI Files + Batches API (and chat completions) on loopback, for batch-backend tests.

Upload (``POST /v1/files``), create (``POST /v1/batches``), poll (``GET /v1/batches/{id}``: the
batch stays ``in_progress`` for ``in_progress_polls`` polls, or while ``hold`` is set, then ends
``status``, or the n-th batch ``status[n]``; 404 while ``lost`` is set), and file contents (``GET
/v1/files/{id}/content``: the output file and, when some items failed, the error file). Each reply
echoes the request's last user message, so a test can check that results came back to the requests
they answer. Items whose text contains one of ``fail_on`` go to the error file as HTTP 500 (a
request for JSON gets a fixed judgement); in an ``expired`` batch only the first half of the items
have results. ``POST /v1/chat/completions`` answers online the same way. Not a model.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from aiohttp import web

from tests.support.loopback_app import LoopbackApp

JUDGEMENT = json.dumps({"vision_score": 4, "text_score": 3, "integration_score": 2, "rationale": "stub"})


def stub_logprobs(content: str, top: int) -> dict[str, Any]:
    """Fixed log probabilities for ``content`` cut at spaces (each piece at probability e^-0.1, ``top - 1`` others at
    e^-5): a stub's, not a model's."""
    pieces = [p for p in re.split("(?= )", content) if p]
    others = [{"token": f"other{i}", "logprob": -5.0} for i in range(top - 1)]
    return {"content": [{"token": p, "logprob": -0.1, "top_logprobs": [{"token": p, "logprob": -0.1}, *others]}
                        for p in pieces]}


def reply_to(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completion echoing the last user message, or a fixed judgement when the request asks for JSON, once per
    sample asked (``n``; each choice's ``token_ids`` when asked for them, :func:`stub_logprobs` when the request asks
    for log probabilities; usage: the message's words in, 5 out a sample)."""
    question = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    text = question if isinstance(question, str) else " ".join(p.get("text", "") for p in question)
    content = JUDGEMENT if body.get("response_format") else f"<think>{text}</think> \\boxed{{3}}"
    n = body.get("n", 1)
    ids = {"token_ids": [1] * 5} if body.get("return_token_ids") else {}
    if body.get("logprobs"):
        ids["logprobs"] = stub_logprobs(content, body.get("top_logprobs") or 1)
    return {"id": "stub", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": content}, **ids}
                        for i in range(n)],
            "usage": {"prompt_tokens": len(text.split()), "completion_tokens": 5 * n}}


class BatchAPIStub(LoopbackApp):
    """``with BatchAPIStub() as stub: stub.base_url``; ``stub.counts`` counts uploads, batches, polls, online calls
    and the tokens of the batch results it served."""

    def __init__(self, in_progress_polls: int = 2, status: str | tuple[str, ...] = "completed",
                 fail_on: tuple[str, ...] = ()):
        self.in_progress_polls = in_progress_polls
        self.status = status
        self.fail_on = fail_on
        self.hold = False
        self.lost = False  # polls answer 404
        self.counts: Counter[str] = Counter()
        self.files: dict[str, str] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["purpose"] == "batch"
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = form["file"].file.read().decode()
        self.counts["uploads"] += 1
        return web.json_response({"id": file_id, "object": "file", "purpose": "batch"})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert body["endpoint"] == "/v1/chat/completions" and body["input_file_id"] in self.files
        batch_id = f"batch_{len(self.batches)}"
        self.batches[batch_id] = {"id": batch_id, "status": "validating", "input_file_id": body["input_file_id"],
                                  "polls": 0}
        self.counts["batches"] += 1
        return web.json_response(self.batches[batch_id])

    def _finish(self, batch: dict[str, Any]) -> None:
        lines = [json.loads(line) for line in self.files[batch["input_file_id"]].splitlines()]
        status = self.status if isinstance(self.status, str) else self.status[int(batch["id"].split("_")[1])]
        if status == "expired":
            lines = lines[: len(lines) // 2]
        output, errors = [], []
        for i, line in enumerate(lines):
            failed = any(word in json.dumps(line["body"]["messages"]) for word in self.fail_on)
            response = ({"status_code": 500, "request_id": f"r{i}", "body": {"error": {"message": "stub failure"}}}
                        if failed else {"status_code": 200, "request_id": f"r{i}", "body": reply_to(line["body"])})
            if not failed:
                self.counts.update(response["body"]["usage"])
            (errors if failed else output).append({"id": f"br{i}", "custom_id": line["custom_id"],
                                                   "response": response, "error": None})
        for key, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files)}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows)
                batch[key] = file_id
        batch["status"] = status

    async def _poll(self, request: web.Request) -> web.Response:
        self.counts["polls"] += 1
        if self.lost:
            return web.json_response({"error": {"message": "No such batch"}}, status=404)
        batch = self.batches[request.match_info["batch_id"]]
        batch["polls"] += 1
        if batch["status"] not in ("completed", "expired", "failed"):
            if self.hold or batch["polls"] <= self.in_progress_polls:
                batch["status"] = "in_progress"
            else:
                self._finish(batch)
        return web.json_response({k: v for k, v in batch.items() if k != "polls"})

    async def _content(self, request: web.Request) -> web.Response:
        self.counts["downloads"] += 1
        return web.Response(text=self.files[request.match_info["file_id"]])

    async def _chat(self, request: web.Request) -> web.Response:
        self.counts["online"] += 1
        return web.json_response(reply_to(await request.json()))

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self._upload)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches/{batch_id}", self._poll)
        app.router.add_get("/v1/files/{file_id}/content", self._content)
        app.router.add_post("/v1/chat/completions", self._chat)
