"""``mmcot verify``: the verify stage alone, on a Parquet or JSONL file of model outputs."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from schemas.convert import to_row
from schemas.generation import VERDICT_TYPE
from transforms.verifiers import VerifyConfig, verify

OUTPUT_COLUMNS = ("content", "output")
GOLD_COLUMNS = ("answer", "gold")


def _pick(table: pa.Table, names: tuple[str, ...], path: Path) -> str:
    for name in names:
        if name in table.column_names:
            return name
    raise ValueError(f"{path}: needs one of the columns {', '.join(names)}; it has {', '.join(table.column_names)}")


def read_outputs(path: Path) -> pa.Table:
    """A Parquet or JSONL file (by suffix) as a table."""
    return pj.read_json(path) if path.suffix in (".jsonl", ".json") else pq.read_table(path)


def verify_table(table: pa.Table, config: VerifyConfig, path: Path = Path("input")) -> pa.Table:
    """``table`` with a ``verdict`` column for every row (an existing one is replaced)."""
    out_col, gold_col = _pick(table, OUTPUT_COLUMNS, path), _pick(table, GOLD_COLUMNS, path)
    verdicts = []
    for row in table.to_pylist():
        verdicts.append(to_row(verify(
            row[out_col] or "", str(row[gold_col]), row.get("answer_type"), row.get("choices") or None,
            reasoning=row.get("reasoning") or None, finish_reason=row.get("finish_reason"), config=config,
            unit=row.get("unit") or "",
        )))
    if "verdict" in table.column_names:
        table = table.drop_columns(["verdict"])
    return table.append_column(pa.field("verdict", VERDICT_TYPE), pa.array(verdicts, type=VERDICT_TYPE))


def verify_file(input_path: Path, output_dir: Path, config: VerifyConfig) -> tuple[Path, int, Counter]:
    """Verify every row of ``input_path`` into ``output_dir/verdicts.parquet``; returns (path, correct, reasons)."""
    table = verify_table(read_outputs(input_path), config, input_path)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "verdicts.parquet"
    pq.write_table(table, path)
    verdicts = table["verdict"].to_pylist()
    reasons = Counter(r for v in verdicts for r in v["reasons"])
    return path, sum(v["correct"] for v in verdicts), reasons
