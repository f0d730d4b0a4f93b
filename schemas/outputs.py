"""Output rows: SFT and preference (sharegpt, LLaMA-Factory), their TRL twins, RL (verl), dead-letter/dropped rows.

Each row's Arrow schema is derived from its dataclass (``schemas/derive.py``) and carries its ``datasets`` features
(the ``huggingface`` schema metadata): ``datasets.load_dataset`` then decodes ``images`` as PIL.

Two prompt layouts exist because the trainers disagree: verl and LLaMA-Factory want one ``<image>``
tag per image in the prompt text (:data:`IMAGE_TAG`); TRL wants typed content parts
(``{"type": "image"}`` / ``{"type": "text", "text": ...}``) and fails on a literal tag.
"""
from __future__ import annotations

from dataclasses import dataclass

from schemas.derive import Int32
from schemas.plan import Assessment
from schemas.problem import Image
from schemas.signals import ChainSignals, ProblemSignals

IMAGE_TAG = "<image>"
"""The image placeholder verl's ``RLHFDataset`` and LLaMA-Factory split prompts at, one per image in order."""
DATA_SOURCE_PREFIX = "mmcot/"
"""RL rows' ``data_source`` is ``mmcot/<source>``: mmcot's reward scores those rows and hands others to verl's own."""


@dataclass
class Message:
    """One chat turn."""

    role: str
    content: str


@dataclass
class ContentPart:
    """One typed part of a TRL message: ``image`` (text None, the image comes from ``images`` in order) or ``text``."""

    type: str
    text: str | None = None


@dataclass
class PartsMessage:
    """A chat turn whose content is typed parts (TRL's multimodal layout)."""

    role: str
    content: list[ContentPart]


@dataclass
class SFTRow:
    """A kept chain as chat ``messages`` (reasoning in ``<think>`` before the answer) + images; ``signals`` are the
    chain's signals from the teacher's token probabilities (None without ``teacher.logprobs``)."""

    id: str
    source: str
    images: list[Image]
    messages: list[Message]
    answer: str
    answer_type: str
    difficulty: float
    pass_rate: float
    teacher: str
    completion_tokens: Int32
    selection: str
    assessment: Assessment | None = None
    chain_score: float | None = None
    scorer: str | None = None
    signals: ChainSignals | None = None


@dataclass
class RewardModel:
    """verl's rule-based reward spec."""

    style: str
    ground_truth: str


@dataclass
class RLExtraInfo:
    """Facts a verl reward function and a curriculum sampler read.

    ``index`` is the row's position in the written order (shards in file order, rows in file order),
    so it is unique and follows the curriculum; ``answer_type``, ``choices`` and ``unit`` tell the
    reward how to compare (never re-guessed from the answer); ``assessment`` is the problem's; ``signals`` the means of
    its teacher chains' signals from token probabilities (None without ``teacher.logprobs``).
    """

    id: str
    split: str
    answer_type: str
    choices: list[str]
    pass_rate: float
    difficulty: float
    num_samples: Int32
    unit: str = ""
    index: int = -1
    assessment: Assessment | None = None
    signals: ProblemSignals | None = None


@dataclass
class RLRow:
    """A problem in verl's RL layout."""

    data_source: str
    prompt: list[Message]
    images: list[Image]
    ability: str
    reward_model: RewardModel
    extra_info: RLExtraInfo


MAX_REJECT_CHARS = {"row_id": 300, "source": 200, "stage": 40, "reason": 80, "detail": 600, "survivor_id": 300,
                    "payload": 4000}
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0)) if c not in (0x09, 0x0a)}


def printable(text: str, limit: int) -> str:
    """``text`` with control characters and lone surrogates escaped, cut to ``limit`` characters (``…`` marks a cut)."""
    text = text[: 4 * limit].translate(_ESCAPES)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class TRLRLRow:
    """An RL row for TRL's GRPOTrainer: the prompt as typed parts, the verl row's other columns unchanged."""

    data_source: str
    prompt: list[PartsMessage]
    images: list[Image]
    ability: str
    reward_model: RewardModel
    extra_info: RLExtraInfo


@dataclass
class RejectRow:
    """A row that left the pipeline before the end: the stage, a reason word and details.

    Written to ``dead_letter/`` when something failed (bad input, teacher error) and to
    ``dropped/`` when a stage decided against it (duplicate, no correct chain).
    ``survivor_id`` names the kept row a duplicate duplicates.
    """

    row_id: str
    source: str
    stage: str
    reason: str
    detail: str = ""
    survivor_id: str | None = None
    payload: str = ""

    def __post_init__(self):
        # hostile values stay out of logs and never break the writer: every text field is escaped
        # printable (control characters, lone surrogates) and bounded
        for name in ("row_id", "source", "stage", "reason", "detail", "survivor_id"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, printable(str(value), MAX_REJECT_CHARS[name]))
        self.payload = printable(self.payload, MAX_REJECT_CHARS["payload"])


@dataclass
class PreferenceRow:
    """A preference pair in LLaMA-Factory's sharegpt ranking layout: prompt ``messages``, ``chosen`` and
    ``rejected`` as single assistant messages, ``images``.

    ``rejected_reason`` says why the rejected chain lost: ``wrong`` (its answer failed
    verification), ``overlong`` (correct, but far longer than the chosen chain) or ``lower_score``
    (R1V2's MPO: the problem's worst-scored chain against its best); ``chosen_score`` and
    ``rejected_score`` are the chains' scores by ``scorer`` (None: not scored); ``chosen_signals`` and
    ``rejected_signals`` the chains' signals from the teacher's token probabilities (None without them).
    """

    id: str
    messages: list[Message]
    images: list[Image]
    chosen: Message
    rejected: Message
    rejected_reason: str
    chosen_tokens: Int32
    rejected_tokens: Int32
    difficulty: float
    pass_rate: float
    assessment: Assessment | None = None
    chosen_score: float | None = None
    rejected_score: float | None = None
    scorer: str | None = None
    chosen_signals: ChainSignals | None = None
    rejected_signals: ChainSignals | None = None


@dataclass
class TRLPreferenceRow:
    """A preference pair in TRL's conversational DPO layout: ``prompt``, ``chosen``, ``rejected`` (typed parts), ``images``."""

    id: str
    prompt: list[PartsMessage]
    images: list[Image]
    chosen: list[PartsMessage]
    rejected: list[PartsMessage]
    rejected_reason: str
    difficulty: float
    pass_rate: float
    assessment: Assessment | None = None
    chosen_score: float | None = None
    rejected_score: float | None = None
    scorer: str | None = None
    chosen_signals: ChainSignals | None = None
    rejected_signals: ChainSignals | None = None


@dataclass
class TRLSFTRow:
    """A kept chain for TRL's SFTTrainer: ``messages`` as typed parts plus ``images``."""

    id: str
    source: str
    images: list[Image]
    messages: list[PartsMessage]
    difficulty: float
    pass_rate: float
    assessment: Assessment | None = None
    chain_score: float | None = None
    scorer: str | None = None
    signals: ChainSignals | None = None


