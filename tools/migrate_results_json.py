"""One-off: move the single results file (format 2) into the store of runs.

Until December 2026 every recorded run lived in one ``cnn_guide/results.json``
(``{"version": 2, "runs": {key: row}, "comparisons": {key: comparison}}``),
rewritten whole on every record. This script writes each run and each
comparison to its own file of the store (`cnn_guide.results`), checks that
every run reads back equal, and leaves the old file for you to delete.
Nothing in the package imports it.

    python tools/migrate_results_json.py cnn_guide/results.json cnn_guide/records
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cnn_guide import results
from cnn_guide.runs import RunRecord


def migrate(source: Path, store: Path) -> tuple[int, int]:
    """Write every run and comparison of ``source`` into ``store``; return their counts."""
    content = json.loads(source.read_text(encoding="utf-8"))
    if content.get("version") != 2:
        raise SystemExit(f"{source}: expected results format 2, got {content.get('version')!r}.")
    runs = [RunRecord.from_json(row) for row in content["runs"].values()]
    for run in runs:
        results.record(run, store)
    for key, values in content.get("comparisons", {}).items():
        results.record_entry("comparisons", key, values, store)
    stored = results.load_results(store)
    for run in runs:
        if stored[run.key] != run:
            raise SystemExit(f"{run.key!r} did not read back equal from {store}.")
    return len(runs), len(content.get("comparisons", {}))


def main() -> None:
    """Parse the two paths and migrate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the results file, format 2")
    parser.add_argument("store", type=Path, help="the store folder to write into")
    args = parser.parse_args()
    runs, comparisons = migrate(args.source, args.store)
    print(f"Migrated {runs} runs and {comparisons} comparisons into {args.store}.")


if __name__ == "__main__":
    main()
