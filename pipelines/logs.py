"""The CLI's log: one line per record on stderr; chatty libraries at WARNING and library notes a person cannot act
on left out, unless ``-v`` asks for everything.

The notes are matched by logger and message template, on the CLI's own handler (installed before
Beam is imported, since Beam logs some of them while it imports); the root logger is not silenced.
"""
from __future__ import annotations

import logging

QUIET_LOGGERS = ("apache_beam", "distributed", "httpx", "httpcore", "urllib3", "filelock", "fsspec", "gcsfs")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# (logger, start of the message template): what a library logs that the run neither needs nor can change
LIBRARY_NOTES = (
    # Beam's BigQuery client module, imported by its GCS filesystem, without the whole `apache-beam[gcp]`
    ("root", "apitools not found, and bigquery client libraries are not available"),
    # a Beam filesystem whose optional extra is absent; a path that needs it fails at start naming the extra
    ("apache_beam.io.filesystems", "Failed to import "),
    ("apache_beam.io.gcp.bigtableio", "ImportError: from google.cloud.bigtable"),
    # Beam's false alarm: with_exception_handling declares only its own dead-letter tag in the type hints
    ("root", "Tags %s requested in with_outputs() but not declared in type hints"),
)


class LibraryNotes(logging.Filter):
    """Drops the records :data:`LIBRARY_NOTES` lists."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else ""
        return not any(record.name == name and template.startswith(start) for name, start in LIBRARY_NOTES)


def setup_logging(verbose: bool) -> None:
    """Log INFO and up to stderr; unless ``verbose``, quiet :data:`QUIET_LOGGERS` and drop :data:`LIBRARY_NOTES`.

    A root logger that already has handlers (a test runner's, an embedding program's) keeps them as they are."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        if not verbose:
            handler.addFilter(LibraryNotes())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    if not verbose:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
