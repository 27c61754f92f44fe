"""The report: what the pages show from the store of runs, and nothing else.

The top of the evidence layer. Its modules read the store
(`cnn_guide.results`) and the catalogue (`cnn_guide.evidence`,
`cnn_guide.experiments`, `cnn_guide.comparison`) and write Markdown; nothing
they read calls back into them.

* `cnn_guide.report.markers`: the one registry of chapter markers
  (``<!-- full-run: MODEL -->``, ...) that the docs build replaces;
* `cnn_guide.report.runs`: full runs and the benchmark;
* `cnn_guide.report.experiments`: the teaching experiments and the papers' findings;
* `cnn_guide.report.comparison`: the fast recipe against the seed recipe;
* `cnn_guide.report.tables`: the one table helper.

Nothing here imports TensorFlow: the docs build renders markers in its own process.
"""
