"""The end-of-run summary table a person reads."""
from __future__ import annotations

from schemas.manifest import Manifest


def summary_table(manifest: Manifest) -> str:
    """Read, kept, dropped and dead-lettered by reason, tokens and wall time, as aligned text."""
    c, s = manifest.counts, manifest.stats
    rows: list[tuple[str, str]] = [("read", f"{c.read}"), ("kept (sft rows)", f"{c.kept}")]
    rows += [(f"dropped  {k}", f"{v}") for k, v in c.dropped.items()]
    rows += [(f"dead-lettered  {k}", f"{v}") for k, v in c.dead_lettered.items()]
    if len(c.by_source) > 1:
        rows += [(f"source {name}: read / kept / dropped / dead", f"{sc.read} / {sc.kept} / {sum(sc.dropped.values())} / "
                  f"{sum(sc.dead_lettered.values())}") for name, sc in c.by_source.items()]
    rows += [
        ("rl rows / preference pairs", f"{manifest.rows.get('rl', 0)} / {manifest.rows.get('preference', 0)}"),
        ("chains (correct / truncated)", f"{int(s.get('chains', 0))} ({int(s.get('chains_correct', 0))} / {int(s.get('chains_truncated', 0))})"),
        ("chains from cache", f"{int(s.get('chains_from_cache', 0))}"),
        ("tokens in / out (new)", f"{int(s.get('prompt_tokens', 0))} / {int(s.get('completion_tokens', 0))}"),
        ("wall time", f"{manifest.wall_time_s:.1f} s"),
        ("accounting read = kept + dropped + dead", "holds" if c.balanced() else "DOES NOT HOLD"),
    ]
    width = max(len(k) for k, _ in rows)
    value_width = max(len(v) for _, v in rows)
    rule = "-" * (width + value_width + 3)
    body = "\n".join(f"{k.ljust(width)}   {v.rjust(value_width)}" for k, v in rows)
    return f"{rule}\n{body}\n{rule}"
