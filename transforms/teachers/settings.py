"""The ``teacher`` section of a config: which backend, where it is, how hard to push it."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from schemas.settings import Settings
from transforms.teachers.budget import LimitSettings
from transforms.teachers.cost import PriceSettings
from transforms.teachers.rate_limit import RateLimitSettings


class EngineSettings(Settings):
    """The in-process vLLM engine (``teacher.backend: vllm``).

    ``model_path`` None means the embedded teacher (prepared by the CLI). ``dtype`` and
    ``enforce_eager`` None pick vLLM's defaults on a GPU and the CPU settings of
    :mod:`transforms.teachers.vllm_cpu` on a CPU host. The engine batches continuously
    (vLLM's scheduler; ``engine_kwargs: {max_num_seqs: …}`` bounds a step's batch), fed up to
    ``teacher.max_in_flight`` requests per DoFn. ``engine_kwargs`` go to ``vllm.LLM`` as they are.
    """

    model_path: str | None = Field(default=None, description="Model folder or Hub id the engine loads; null: the embedded teacher.")
    dtype: str | None = Field(default=None, description="vLLM dtype; null: vLLM's default on a GPU, float32 on a CPU host.")
    enforce_eager: bool | None = Field(
        default=None,
        description="vLLM's enforce_eager; null: vLLM's default on a GPU, the CPU setting on a CPU host.",
    )
    max_model_len: int = Field(default=2048, ge=16, description="Context length (prompt + completion tokens) the engine allows.")
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1, description="Share of GPU memory vLLM may take (GPU only).")
    cpu_kv_cache_gib: int = Field(default=2, ge=1, description="KV cache size on a CPU host, in GiB.")
    engine_kwargs: dict[str, Any] = Field(
        default={},
        description="More keyword arguments for vllm.LLM, passed as they are (e.g. max_num_seqs).",
    )


class BatchSettings(Settings):
    """How a batch backend (``openai_batch``, ``vllm_batch``) groups, polls and handles failed items
    (:mod:`transforms.teachers.batch`; ignored by online backends)."""

    linger_s: float = Field(default=5.0, ge=0, description="Seconds to wait after a batch's first request for more before it is sent.")
    poll_s: float = Field(default=30.0, gt=0, description="Seconds between polls of a submitted batch.")
    completion_window: str = Field(default="24h", description="The Batches API's completion_window (openai_batch).")
    on_failure: Literal["online", "dead_letter"] = Field(
        default="dead_letter",
        description="A failed batch item: dead_letter it, or online: send it once more as an online request to base_url.",
    )


#: Critical tokens by default: where a chain decides (R1V3's critical reasoning tokens), matched on a sampled token's
#: text, case-insensitive and whitespace-stripped; a word the tokenizer splits matches only through its first piece
#: when that piece is listed.
CRITICAL_TOKENS = ("wait", "but", "so", "therefore", "thus", "hence", "however", "alternatively", "hmm", "actually")


class LogprobSettings(Settings):
    """Log probabilities on request (``teacher.logprobs: {top: 5}``; absent: off) and the chain signals computed
    from them (:mod:`transforms.chain_signals`).

    ``top`` alternatives are asked per token (OpenAI ``top_logprobs``, vLLM ``SamplingParams.logprobs``); it is part of
    the cache key. ``keep`` writes each chain's per-token data (:class:`schemas.signals.TokenLogprobs`) into
    ``generations/`` (off: only the signals; the response cache holds the per-token data either way).
    ``critical_tokens`` are the tokens whose positions make ``critical_entropy`` (``answer_start``: the first token
    of the answer span too); ``low_confidence`` is the probability below which a sampled token counts as
    low-confidence.
    """

    top: int = Field(default=5, ge=1, le=20,
                     description="Alternatives asked per token (OpenAI top_logprobs, vLLM SamplingParams.logprobs); part of the cache key.")
    keep: bool = Field(default=False, description="Write each chain's per-token data into generations/ (off: only the signals).")
    critical_tokens: list[str] = Field(
        default=list(CRITICAL_TOKENS),
        description="Tokens whose positions make critical_entropy, matched on a sampled token's text, case-insensitive and "
                    "whitespace-stripped.",
    )
    answer_start: bool = Field(default=True, description="Count the answer span's first token as a critical token too.")
    low_confidence: float = Field(default=0.5, gt=0, lt=1,
                                  description="A sampled token below this probability counts as low-confidence.")

    @field_validator("critical_tokens")
    @classmethod
    def _normalized(cls, tokens: list[str]) -> list[str]:
        words = [t.strip().lower() for t in tokens]
        if any(not w for w in words):
            raise ValueError("a critical token is empty once whitespace is stripped")
        return words


class TeacherSettings(Settings):
    """Where the teacher is and how hard to push it.

    ``backend`` names a backend of :mod:`transforms.teachers.registry`: ``openai`` talks to an
    OpenAI-compatible server at ``base_url`` (None: the embedded teacher, started by the CLI);
    ``vllm`` loads the model in the worker process (``engine``); ``scripted`` answers from a test's
    script; ``openai_batch`` (a Files + Batches API at ``base_url``) and ``vllm_batch`` (vLLM's
    ``run_batch`` on ``engine.model_path``) send the requests as batch files (``batch``).
    ``send_seed`` adds a per-request seed (off by default: vLLM-CPU's engine dies on concurrent
    seeded requests; seed the server or engine instead). ``rate_limit`` bounds an online backend's
    requests and tokens per minute (:mod:`transforms.teachers.rate_limit`); ``price`` prices the
    tokens for the run's cost (:mod:`transforms.teachers.cost`). ``cache_layout``: ``sample``
    (one cache object per sample) or ``problem`` (one per prompt, holding all its samples: a
    resume reads one object per problem; :class:`transforms.teachers.cache.ResponseCache`). ``logprobs`` asks the
    generate stage's requests for token log probabilities (:class:`LogprobSettings`; other stages never ask).
    ``samples_per_request``: the most samples of one prompt asked in one request (OpenAI's ``n``, the
    engine's ``SamplingParams.n``); 1 asks one request per sample. A server that refuses ``n`` gets one
    request per sample from then on (:mod:`transforms.teachers.samples`).
    ``limits``: what one request may hold (context tokens, images per prompt), checked before it is
    sent (:mod:`transforms.teachers.budget`; empty fields are read from the model). ``image_max_side``:
    images longer than this are scaled down before they are sent; ``processor``: to the side the
    model's processor resizes to (read from its config; unknown: sent as stored); null: as stored.
    """

    backend: str = Field(
        default="openai",
        description="Teacher backend: openai (an OpenAI-compatible server), vllm (the model in the worker), scripted (tests), "
                    "openai_batch, vllm_batch (batch files).",
    )
    base_url: str | None = Field(
        default=None,
        description="The server's OpenAI-compatible /v1 root (openai, openai_batch); null: the embedded teacher, started by the CLI.",
    )
    model: str = Field(default="smollm2-135m-instruct", description="Model name sent with every request (the server's served model name).")
    modality: Literal["text", "vision"] = Field(
        default="text",
        description="text: images reach the model as their captions; vision: as image parts of the message.",
    )
    limits: LimitSettings = Field(
        default=LimitSettings(),
        description="What one request may hold (context tokens, images per prompt), checked before it is sent; empty: read from the model.",
    )
    image_max_side: Annotated[int, Field(ge=16)] | Literal["processor"] | None = Field(
        default="processor",
        description="Longest image side sent, in pixels (larger images are scaled down first); processor: the side the model's "
                    "processor resizes to (unknown: as stored); null: as stored.",
    )
    api_key_env: str | None = Field(
        default=None,
        description="Environment variable holding the API key (sent as a bearer token); null: no key.",
    )
    max_in_flight: int = Field(default=64, ge=1, description="Most requests in flight at once per worker thread (per teacher-call DoFn).")
    timeout_s: float = Field(default=300.0, gt=0, description="Time limit of one request, in seconds.")
    max_attempts: int = Field(default=5, ge=1, description="Tries per request (transient failures are retried with backoff).")
    max_backoff_s: float = Field(
        default=30.0, gt=0,
        description="Longest wait between tries, in seconds (also caps a server's Retry-After).",
    )
    send_seed: bool = Field(
        default=False,
        description="Send a per-request seed (seed + sample number); off: vLLM-CPU dies on concurrent seeded requests.",
    )
    seed: int = Field(default=0, description="First per-request seed (with send_seed).")
    cache_url: str | None = Field(
        default=None,
        description="Response cache: a directory or fsspec URL; a rerun answers cached requests from it. null: $MMCOT_HOME/responses "
                    "(~/.cache/mmcot/responses).",
    )
    cache_layout: Literal["sample", "problem"] = Field(
        default="sample",
        description="sample: one cache object per sample; problem: one per prompt, holding all its samples (a resume reads one object per "
                    "problem).",
    )
    samples_per_request: int = Field(
        default=16, ge=1,
        description="Most samples of one prompt asked in one request (OpenAI's n, the engine's SamplingParams.n); 1: one request per "
                    "sample. A server that refuses n gets one request per sample from then on.",
    )
    engine: EngineSettings = Field(default=EngineSettings(), description="The in-process vLLM engine (backends vllm, vllm_batch).")
    rate_limit: RateLimitSettings | None = Field(default=None, description="Request and token rate limits of the endpoint; null: none.")
    batch: BatchSettings = Field(
        default=BatchSettings(),
        description="How a batch backend (openai_batch, vllm_batch) groups, polls and handles failed items.",
    )
    price: PriceSettings | None = Field(default=None, description="Token prices, for the run's cost; null: no cost reported.")
    logprobs: LogprobSettings | None = Field(
        default=None,
        description="Token log probabilities for the generate stage's requests, and the chain signals computed from them; null: off.",
    )

    def request_seed(self, sample: int) -> int | None:
        """The seed a request for sample number ``sample`` carries (None unless ``send_seed``)."""
        return self.seed + sample if self.send_seed else None

    @field_validator("backend")
    @classmethod
    def _registered(cls, name: str) -> str:
        from transforms.teachers.registry import backend  # the registry names settings: import it late

        backend(name)
        return name


def endpoint_field() -> Any:
    """The ``endpoint`` field of a stage that asks a model (judge, answer judge, repair, scorer): its own
    endpoint, or None for the run's teacher."""
    return Field(default=None, description="This stage's own model endpoint (the teacher's keys); null: the run's teacher. "
                                           "Its base_url null means the teacher's URL.")
