"""Open an image path only if it stays inside the dataset root, symlinks included.

No library does this for us: ``posixpath.normpath`` sees ``..`` but not symlinks, and
``FileSystems.open`` opens whatever it is given. For a local root the path is resolved with
``os.path.realpath`` (file and directory symlinks followed) and must lie under the root's real
path; the file is then opened without following a final symlink and the opened descriptor's
own path (``/proc/self/fd``) is checked again, so a link swapped in between cannot lead out.
Only regular files are read (not FIFOs or devices), and no more than ``max_bytes``. Object-store
roots (``gs://``, ``s3://`` …) have no symlinks: the joined, normalized path must stay under the
root and is read through Beam's FileSystems.

Reasons: ``path_outside_root``, ``missing_image``, ``not_a_file``, ``image_too_large``.
"""
from __future__ import annotations

import os
import posixpath
import stat

from apache_beam.io.filesystems import FileSystems

from transforms.validate import RowError


def _inside(base: str, path: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _read_local(root: str, rel: str, max_bytes: int) -> bytes:
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, rel))
    if not _inside(base, real):
        raise RowError("path_outside_root", f"{rel} resolves outside the dataset root")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise RowError("missing_image", f"{rel}: {exc.strerror}") from None
    try:
        proc = f"/proc/self/fd/{fd}"
        if os.path.exists(proc) and not _inside(base, os.readlink(proc)):
            raise RowError("path_outside_root", f"{rel} changed to lead outside the dataset root")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RowError("not_a_file", f"{rel} is not a regular file")
        if info.st_size > max_bytes:
            raise RowError("image_too_large", f"{rel}: {info.st_size} bytes (limit {max_bytes})")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(max_bytes + 1)
    finally:
        os.close(fd)


def _read_stream(url: str, name: str, max_bytes: int) -> bytes:
    try:
        with FileSystems.open(url) as fh:
            data = fh.read(max_bytes + 1)
    except (OSError, ValueError) as exc:
        raise RowError("missing_image", f"{name}: {exc}") from None
    if len(data) > max_bytes:
        raise RowError("image_too_large", f"{name}: more than {max_bytes} bytes")
    return data


def _read_remote(root: str, rel: str, max_bytes: int) -> bytes:
    scheme, _, rest = root.partition("://")
    base = "/" + rest.strip("/")
    inner = posixpath.normpath(posixpath.join(base, rel))
    if not inner.startswith(base + "/"):
        raise RowError("path_outside_root", f"{rel} resolves outside {root}")
    return _read_stream(f"{scheme}:/{inner}", rel, max_bytes)


def read_image_file(root: str | None, rel: str, max_bytes: int) -> bytes:
    """The bytes of image ``rel`` under ``root``; :class:`RowError` if it leaves the root or cannot be read."""
    if root is None:
        raise RowError("path_outside_root", f"{rel}: this source has no image root")
    if rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        raise RowError("path_outside_root", f"{rel}: absolute paths are not allowed")
    return _read_remote(root, rel, max_bytes) if "://" in root else _read_local(root, rel, max_bytes)


def read_remote_image(url: str, max_bytes: int) -> bytes:
    """An image named by URL (``normalize.remote_images: true`` only), through Beam's FileSystems."""
    return _read_stream(url, url[:120], max_bytes)
