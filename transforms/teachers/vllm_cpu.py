"""vLLM settings for CPU hosts, shared by the teacher server and the in-process engine.

vLLM's defaults target GPUs. On a small CPU machine: float32 (bf16 is emulated and about 2x
slower without native support), eager mode (torch.compile warm-up took 5+ minutes on 2 cores),
every core for the model, and an explicit KV cache size in GiB.
"""
from __future__ import annotations

import os

CPU_DTYPE = "float32"
CPU_ENFORCE_EAGER = True
CPU_KV_CACHE_GIB = 2
CPU_RESERVED_CPUS = 0


def vllm_environment(kv_cache_gib: int = CPU_KV_CACHE_GIB, reserved_cpus: int | None = CPU_RESERVED_CPUS) -> dict[str, str]:
    """Environment variables a vLLM process needs here: CPU KV cache and cores, offline, no telemetry.

    ``reserved_cpus`` None leaves vLLM's default (one core kept for the frontend).
    """
    env = {"VLLM_CPU_KVCACHE_SPACE": str(int(kv_cache_gib))}
    if reserved_cpus is not None:
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(reserved_cpus)
    # Local model directories: never wait on the Hub or usage stats.
    for name, value in (("HF_HUB_OFFLINE", "1"), ("VLLM_NO_USAGE_STATS", "1"), ("DO_NOT_TRACK", "1")):
        env[name] = os.environ.get(name, value)
    return env
