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

    model_path: str | None = None
    dtype: str | None = None
    enforce_eager: bool | None = None
    max_model_len: int = Field(default=2048, ge=16)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    cpu_kv_cache_gib: int = Field(default=2, ge=1)
    engine_kwargs: dict[str, Any] = {}


class BatchSettings(Settings):
    """How a batch backend (``openai_batch``, ``vllm_batch``) groups, polls and handles failed items
    (:mod:`transforms.teachers.batch`; ignored by online backends)."""

    linger_s: float = Field(default=5.0, ge=0)
    poll_s: float = Field(default=30.0, gt=0)
    completion_window: str = "24h"
    on_failure: Literal["online", "dead_letter"] = "dead_letter"


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

    top: int = Field(default=5, ge=1, le=20)
    keep: bool = False
    critical_tokens: list[str] = list(CRITICAL_TOKENS)
    answer_start: bool = True
    low_confidence: float = Field(default=0.5, gt=0, lt=1)

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

    backend: str = "openai"
    base_url: str | None = None
    model: str = "smollm2-135m-instruct"
    modality: Literal["text", "vision"] = "text"
    limits: LimitSettings = LimitSettings()
    image_max_side: Annotated[int, Field(ge=16)] | Literal["processor"] | None = "processor"
    api_key_env: str | None = None
    max_in_flight: int = Field(default=64, ge=1)
    timeout_s: float = Field(default=300.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    max_backoff_s: float = Field(default=30.0, gt=0)
    send_seed: bool = False
    seed: int = 0
    cache_url: str | None = None
    cache_layout: Literal["sample", "problem"] = "sample"
    samples_per_request: int = Field(default=16, ge=1)
    engine: EngineSettings = EngineSettings()
    rate_limit: RateLimitSettings | None = None
    batch: BatchSettings = BatchSettings()
    price: PriceSettings | None = None
    logprobs: LogprobSettings | None = None

    def request_seed(self, sample: int) -> int | None:
        """The seed a request for sample number ``sample`` carries (None unless ``send_seed``)."""
        return self.seed + sample if self.send_seed else None

    @field_validator("backend")
    @classmethod
    def _registered(cls, name: str) -> str:
        from transforms.teachers.registry import backend  # the registry names settings: import it late

        backend(name)
        return name
