"""Publish a run's output to the Hugging Face Hub as one dataset-repo commit, after checking it."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, constants

from data_cards.examples import EXAMPLES_DIR
from data_cards.trainers import DATASET_INFO
from schemas.manifest import Manifest

REPO_TYPE = "dataset"


class PublishRefused(Exception):
    """The output is not fit to publish; the message lists every problem found."""


@dataclass
class UploadFile:
    """One local file and where it goes in the repo."""

    local: Path
    path_in_repo: str
    bytes: int


@dataclass
class PublishPlan:
    """Everything one publish commit uploads, and where."""

    repo_id: str
    revision: str
    private: bool
    files: list[UploadFile]
    commit_message: str

    @property
    def url(self) -> str:
        """The dataset repo's address on the Hub (this process's endpoint)."""
        return f"{constants.ENDPOINT}/datasets/{self.repo_id}/tree/{self.revision}"

    def describe(self) -> str:
        """What would be uploaded and where, one file per line."""
        width = max(len(f.path_in_repo) for f in self.files)
        head = (f"{len(self.files)} files, {sum(f.bytes for f in self.files)} bytes, one commit to {self.url} "
                f"({'private' if self.private else 'public'} dataset repo; created if missing): {self.commit_message!r}")
        return "\n".join([head, *(f"  {f.path_in_repo.ljust(width)}  <- {f.local}  ({f.bytes} bytes)" for f in self.files)])


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_output(out_dir: Path, manifest: Manifest) -> None:
    """Raise :class:`PublishRefused` unless the accounting identity holds and every shard matches the manifest."""
    problems = []
    c = manifest.counts
    if not c.balanced():
        problems.append(f"accounting identity fails: read {c.read} != kept {c.kept} + dropped {sum(c.dropped.values())} "
                        f"+ dead-lettered {sum(c.dead_lettered.values())}")
    for name, rows in manifest.rows.items():
        listed = sum(s.rows for s in manifest.shards if s.config == name)
        if listed != rows:
            problems.append(f"{name}: the manifest says {rows} rows but its shards hold {listed}")
    for shard in manifest.shards:
        path = out_dir / shard.path
        if not path.is_file():
            problems.append(f"{shard.path}: missing")
        elif path.stat().st_size != shard.bytes or _sha256(path) != shard.sha256:
            problems.append(f"{shard.path}: checksum does not match the manifest")
    if problems:
        raise PublishRefused("refusing to publish " + str(out_dir) + ":\n  " + "\n  ".join(problems))


def plan_publish(out_dir: Path, manifest: Manifest, repo_id: str, revision: str = "main",
                 private: bool = False) -> PublishPlan:
    """The card, manifest, shards, plots, example images and LLaMA-Factory's dataset_info.json (runs older than it
    have none) as one commit's files (check the output first)."""
    examples = sorted(p.relative_to(out_dir).as_posix() for p in (out_dir / EXAMPLES_DIR).glob("*") if p.is_file())
    dataset_info = [DATASET_INFO] if (out_dir / DATASET_INFO).is_file() else []
    rel_paths = ["README.md", "manifest.json", *dataset_info, *(s.path for s in manifest.shards), *manifest.plots, *examples]
    missing = [p for p in rel_paths if not (out_dir / p).is_file()]
    if missing:
        raise PublishRefused(f"refusing to publish {out_dir}: missing " + ", ".join(missing))
    files = [UploadFile(out_dir / p, p, os.path.getsize(out_dir / p)) for p in rel_paths]
    message = f"mmcot run {manifest.run_id} (config {manifest.config_hash[:12]})"
    return PublishPlan(repo_id, revision, private, files, message)


def publish(plan: PublishPlan, api: HfApi) -> CommitInfo:
    """Create the repo (and branch) if missing, then upload every file of ``plan`` in one commit.

    ``create_commit`` uploads large files through the Hub's LFS/Xet storage before committing.
    """
    api.create_repo(plan.repo_id, repo_type=REPO_TYPE, private=plan.private, exist_ok=True)
    if plan.revision != "main":
        api.create_branch(plan.repo_id, repo_type=REPO_TYPE, branch=plan.revision, exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in plan.files]
    return api.create_commit(plan.repo_id, operations, repo_type=REPO_TYPE, revision=plan.revision,
                             commit_message=plan.commit_message)
