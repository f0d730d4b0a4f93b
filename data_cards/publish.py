"""Publish a run's output to the Hugging Face Hub as one dataset-repo commit, after checking it."""
from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
from dataclasses import dataclass

import fsspec
from fsspec.implementations.local import LocalFileSystem
from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, constants

from data_cards.examples import EXAMPLES_DIR
from data_cards.meta import read_figures
from data_cards.trainers import DATASET_INFO
from schemas.figures import SHARDS_FILE, ShardFigures
from schemas.manifest import Manifest

REPO_TYPE = "dataset"


class PublishRefused(Exception):
    """The output is not fit to publish; the message lists every problem found."""


@dataclass
class UploadFile:
    """One file of the output (a local path or an fsspec URL) and where it goes in the repo."""

    local: str
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


def _sha256(fs, path: str) -> str:
    with fs.open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_output(out_dir: str, manifest: Manifest, verify_hashes: bool = False) -> None:
    """Raise :class:`PublishRefused` unless the accounting identity holds and every shard matches the manifest.

    Each shard of the manifest must be the one the workers hashed after the write (``_meta/shards.json``: rows,
    bytes, sha256) and be there with that size (a metadata call); its bytes are read and hashed again only with
    ``verify_hashes``.
    """
    problems = []
    c = manifest.counts
    if not c.balanced():
        problems.append(f"accounting identity fails: read {c.read} != kept {c.kept} + dropped {sum(c.dropped.values())} "
                        f"+ dead-lettered {sum(c.dead_lettered.values())}")
    for name, rows in manifest.rows.items():
        listed = sum(s.rows for s in manifest.shards if s.config == name)
        if listed != rows:
            problems.append(f"{name}: the manifest says {rows} rows but its shards hold {listed}")
    hashed = {s.path: s for s in read_figures(str(out_dir), SHARDS_FILE, ShardFigures).shards}
    for path in sorted(set(hashed) - {s.path for s in manifest.shards}):
        problems.append(f"{path}: written by the run but not in the manifest")
    fs, root = fsspec.core.url_to_fs(str(out_dir))
    for shard in manifest.shards:
        path = posixpath.join(root, shard.path)
        if hashed.get(shard.path) != shard:
            problems.append(f"{shard.path}: the manifest's rows, size or sha256 differ from what the workers recorded "
                            f"after the write (_meta/shards.json)")
        elif not fs.isfile(path):
            problems.append(f"{shard.path}: missing")
        elif fs.size(path) != shard.bytes or (verify_hashes and _sha256(fs, path) != shard.sha256):
            problems.append(f"{shard.path}: checksum does not match the manifest")
    if problems:
        raise PublishRefused("refusing to publish " + str(out_dir) + ":\n  " + "\n  ".join(problems))


def plan_publish(out_dir: str, manifest: Manifest, repo_id: str, revision: str = "main",
                 private: bool = False) -> PublishPlan:
    """The card, manifest, shards, plots, example images and LLaMA-Factory's dataset_info.json (runs older than it
    have none) as one commit's files (check the output first)."""
    fs, root = fsspec.core.url_to_fs(str(out_dir))
    examples = sorted(posixpath.relpath(p, root) for p in fs.glob(posixpath.join(root, EXAMPLES_DIR, "*")) if fs.isfile(p))
    dataset_info = [DATASET_INFO] if fs.isfile(posixpath.join(root, DATASET_INFO)) else []
    rel_paths = ["README.md", "manifest.json", *dataset_info, *(s.path for s in manifest.shards), *manifest.plots, *examples]
    missing = [p for p in rel_paths if not fs.isfile(posixpath.join(root, p))]
    if missing:
        raise PublishRefused(f"refusing to publish {out_dir}: missing " + ", ".join(missing))
    base = str(out_dir).rstrip("/")
    files = [UploadFile(f"{base}/{p}", p, fs.size(posixpath.join(root, p))) for p in rel_paths]
    message = f"mmcot run {manifest.run_id} (config {manifest.config_hash[:12]})"
    return PublishPlan(repo_id, revision, private, files, message)


def _source(stack: contextlib.ExitStack, url: str) -> str | io.BufferedReader:
    """What ``CommitOperationAdd`` reads: a local path, or a buffered binary stream over object storage."""
    fs, path = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        return path
    return io.BufferedReader(stack.enter_context(fs.open(path, "rb")))


def publish(plan: PublishPlan, api: HfApi) -> CommitInfo:
    """Create the repo (and branch) if missing, then upload every file of ``plan`` in one commit.

    ``create_commit`` uploads large files through the Hub's LFS/Xet storage before committing.
    """
    api.create_repo(plan.repo_id, repo_type=REPO_TYPE, private=plan.private, exist_ok=True)
    if plan.revision != "main":
        api.create_branch(plan.repo_id, repo_type=REPO_TYPE, branch=plan.revision, exist_ok=True)
    with contextlib.ExitStack() as stack:
        operations = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=_source(stack, f.local)) for f in plan.files]
        return api.create_commit(plan.repo_id, operations, repo_type=REPO_TYPE, revision=plan.revision,
                                 commit_message=plan.commit_message)
