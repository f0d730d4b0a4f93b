"""Remote-run guards: refuse, before submission, a run whose workers could not reach what it names.

A worker on Dataflow, a Flink cluster, a remote job server or a remote Dask cluster is not this
machine: it cannot call a teacher on this machine's loopback (the embedded teacher included),
read a local source or cache, or write a local output directory. Local runners (DirectRunner in
any mode, a Dask LocalCluster, the portable runner's embedded job server with loopback or local
external workers) are never refused.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.runners import runner_class
from pipelines.storage import config_paths, is_local
from transforms.teachers.registry import backend

LOCAL_RUNNERS = {"DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner", "PrismRunner"}
LOCAL_ENVIRONMENTS = {"LOOPBACK", "PROCESS", "EXTERNAL"}


class RemoteRunRefused(ValueError):
    """The run names something its remote workers cannot reach; the message names each key and what to set."""


@dataclass(frozen=True)
class RunPlaces:
    """What a run's workers reach: paths and endpoint URLs by config key, and services only this machine has."""

    paths: Mapping[str, str | None] = field(default_factory=dict)
    urls: Mapping[str, str | None] = field(default_factory=dict)
    local_only: Mapping[str, str] = field(default_factory=dict)  # key -> why it exists only on this machine


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` (a name or an address) means this machine."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _host(address: str | None) -> str | None:
    """The host of a URL or a ``host:port`` address."""
    if not address:
        return None
    return urlsplit(address if "://" in address else f"//{address}").hostname


def workers_are_remote(options: PipelineOptions) -> bool:
    """Whether the runner's workers may run on another machine."""
    runner = runner_class(options)
    values = options.get_all_options(retain_unknown_options=True)
    if runner in LOCAL_RUNNERS:
        return False
    if runner in ("FixedDaskRunner", "DaskRunner"):  # no address: the preset's own LocalCluster
        # Beam's DaskOptions, once imported, stores --dask_client_address under dest "address"
        address = values.get("dask_client_address") or values.get("address")
        return bool(address) and not is_loopback_host(_host(address))
    if runner == "PortableRunner":
        endpoint = values.get("job_endpoint") or "embed"
        environment = (values.get("environment_type") or "DOCKER").upper()
        local_job = endpoint == "embed" or is_loopback_host(_host(endpoint))
        local_env = environment in LOCAL_ENVIRONMENTS and (
            environment != "EXTERNAL" or is_loopback_host(_host(values.get("environment_config"))))
        return not (local_job and local_env)
    return True


def run_places(config, cache_url: str | None) -> RunPlaces:
    """The places a pipeline run's workers reach (``config`` is a PipelineConfig; ``cache_url`` the resolved cache)."""
    local_only: dict[str, str] = {}
    urls: dict[str, str | None] = {}
    sections = {"teacher": config.teacher, **{f"{name}.endpoint": ep for name, ep in config.helper_endpoints().items()}}
    for key, settings in sections.items():
        if not backend(settings.backend).needs_server:  # the model runs in each worker
            if not settings.engine.model_path:
                local_only[f"{key}.engine.model_path"] = (
                    "is empty, so the embedded model would be prepared on this machine only; "
                    "set it to a Hugging Face model id or a path on object storage the workers can load")
        elif settings.base_url:
            urls[f"{key}.base_url"] = settings.base_url
        elif key == "teacher":
            local_only["teacher.base_url"] = (
                "is empty, so the embedded teacher would start on this machine's loopback; set it to a vLLM "
                "server the workers can reach (http://teacher-host:8000/v1), or use teacher.backend: vllm on GPU workers")
    if cache_url is None:
        local_only["teacher.cache_url"] = ("is empty, so the response cache would be ~/.cache/mmcot/responses on each "
                                           "worker; set it to a gs:// or s3:// folder all workers share")
    return RunPlaces(paths=config_paths(config, cache_url), urls=urls, local_only=local_only)


def refusals(places: RunPlaces) -> list[str]:
    """One line per key the remote workers could not use."""
    lines = [f"{key} {why}" for key, why in places.local_only.items()]
    lines += [f"{key} is {url}, this machine's loopback: workers cannot reach it; set a host name or address "
              f"the workers can reach" for key, url in places.urls.items() if url and is_loopback_host(_host(url))]
    lines += [f"{key} is a local path ({path}): workers cannot see this machine's disk; set a gs:// or s3:// URL"
              for key, path in places.paths.items() if path and is_local(path)]
    return lines


def guard_remote_run(options: PipelineOptions, places: RunPlaces) -> None:
    """Raise :class:`RemoteRunRefused` if the runner's workers are remote and ``places`` names anything they cannot reach."""
    if not workers_are_remote(options):
        return
    lines = refusals(places)
    if lines:
        raise RemoteRunRefused(f"refusing to submit to {runner_class(options)} (its workers are not on this machine):\n  "
                               + "\n  ".join(lines))
