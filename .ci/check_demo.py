"""CI's check of the demo's output: the accounting identity holds, every shard matches the manifest, and every config
the card lists loads with ``datasets.load_dataset``, its image columns decoding to PIL images.

    python .ci/check_demo.py out/sample
"""
from __future__ import annotations

import sys

from data_cards.card import load_manifest
from data_cards.loads import card_configs, load_problems
from data_cards.publish import PublishRefused, check_output


def main(out_dir: str) -> int:
    manifest = load_manifest(out_dir)
    problems = []
    try:
        check_output(out_dir, manifest, verify_hashes=True)  # CI reads every shard again, checking the workers' hashes too
    except PublishRefused as refused:
        problems.append(str(refused))
    problems += load_problems(out_dir)
    c = manifest.counts
    if problems:
        print(f"{out_dir}: the demo's output is not right:\n  " + "\n  ".join(problems))
        return 1
    print(f"{out_dir}: read {c.read} = kept {c.kept} + dropped {sum(c.dropped.values())} + dead-lettered "
          f"{sum(c.dead_lettered.values())}; every shard matches the manifest; configs "
          f"{', '.join(card_configs(out_dir))} load with datasets, images decoded as PIL")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "out/sample"))
