"""The site: a strict build with executed examples, and a link check of the result."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# One worker builds the site and runs everything that reads it (pytest-xdist).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site")]


# Lines a reader's first build must not show: TensorFlow's start-up notices,
# the kernels' transport warning and the MkDocs plugins' banners.
NOISE = (
    "cuInit",
    "oneDNN",
    "cuda drivers",
    "absl::InitializeLog",
    "without encryption",
    "MkDocs 2.0",
    "ProperDocs",
    "end of life",
    "Converting notebook",
)


def test_the_build_log_is_one_line_per_example_and_quiet(site_build):
    lines = site_build.log.splitlines()
    progress = [line for line in lines if re.search(r"Example +\d+/\d+ ", line)]
    assert len(progress) == len(EXAMPLES), progress
    for number, (line, stem) in enumerate(zip(progress, EXAMPLES, strict=True), start=1):
        assert re.search(rf"Example +{number}/{len(EXAMPLES)} +{stem} +executed in +[\d.]+ s", line)
    total = rf"{len(EXAMPLES)} examples executed in \d+ s \(budget 'quick'\)"
    assert re.search(total, site_build.log), site_build.log[-2000:]
    noisy = [line for line in lines if any(word in line for word in NOISE)]
    assert not noisy, noisy
    assert not [line for line in lines if "WARNING" in line], site_build.log[-3000:]


def test_site_tests_share_one_worker(request):
    # pytest-xdist's loadgroup marks each grouped test's id; without it every
    # worker would build the site itself (as it did with pytest 9.2).
    if not hasattr(request.config, "workerinput"):
        pytest.skip("not run by pytest-xdist")
    assert request.node.nodeid.endswith("@site"), request.node.nodeid


def test_pages_exist(built_site):
    for page in (
        "index.html",
        "getting-started/index.html",
        "chapters/simple-cnn/index.html",
        "examples/simple_cnn/index.html",
        "reference/cnn_guide/data/index.html",
        "reference/cnn_guide/models/simple_cnn/index.html",
        "404.html",
    ):
        assert (built_site / page).is_file(), page


def test_example_page_shows_real_executed_output(built_site):
    html = (built_site / "examples/simple_cnn/index.html").read_text()
    assert "Budget &#39;quick&#39;" in html or "Budget 'quick'" in html
    assert "1,413,834" in html and "Test accuracy 0." in html
    assert len(re.findall(r'<img[^>]+src="data:image/png', html)) >= 3
    assert "Traceback" not in html and "cudart_stub" not in html and "absl::" not in html
    assert (built_site / "examples/simple_cnn/simple_cnn.py").is_file()  # the download


EXAMPLES = sorted(path.stem for path in (ROOT / "examples").glob("*.py"))
CHAPTERS = sorted(path.stem for path in (ROOT / "docs" / "chapters").glob("*.md"))


@pytest.mark.parametrize("stem", EXAMPLES)
def test_every_example_is_executed_on_its_page(built_site, stem):
    # The site build is the examples' notebook run: the quick budget, a fresh
    # kernel each, errors fail the build (allow_errors: false).
    html = (built_site / "examples" / stem / "index.html").read_text()
    assert "Budget &#39;quick&#39;" in html or "Budget 'quick'" in html
    assert re.search(r'<img[^>]+src="data:image/png', html), "no executed figure"
    assert "Traceback" not in html and "absl::" not in html
    assert (built_site / "examples" / stem / f"{stem}.py").is_file()  # the download


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_is_built_and_linked_from_home(built_site, chapter):
    assert (built_site / "chapters" / chapter / "index.html").is_file()
    home = (built_site / "index.html").read_text()
    assert f'href="chapters/{chapter}/"' in home, f"the home page does not list {chapter}"


def test_api_pages_link_back_to_their_chapters(built_site):
    for module, chapter in [
        ("models/resnet", "resnet"),
        ("layers/inception", "googlenet"),
        ("layers/squeeze_excitation", "senet"),
        ("analysis", "foundations"),
    ]:
        html = (built_site / "reference" / "cnn_guide" / module / "index.html").read_text()
        depth = "../" * (module.count("/") + 3)
        assert f'href="{depth}chapters/{chapter}/"' in html, (module, chapter)


def test_pages_load_nothing_from_other_hosts(built_site):
    # Scripts, stylesheets and icons only: rel="canonical" names the page's
    # published address, which the browser does not fetch.
    loaded = re.compile(
        r'<script[^>]+src="(https?://[^"]+)"'
        r'|<link(?![^>]*rel="(?:canonical|alternate)")[^>]+href="(https?://[^"]+)"'
    )
    for page in built_site.rglob("*.html"):
        external = [a or b for a, b in loaded.findall(page.read_text())]
        assert not external, f"{page}: {external}"


def test_api_reference_documents_the_builder(built_site):
    html = (built_site / "reference/cnn_guide/models/simple_cnn/index.html").read_text()
    assert "simple_cnn" in html and "Géron" in html


def test_every_link_resolves(built_site):
    # Every page, notebook pages included, fragments too. Directory links
    # resolve to their index.html; 404.html links by absolute path on purpose
    # (it is served at any depth), which only a web server can check: the
    # browser tests load it.
    lychee = shutil.which("lychee") or str(Path(sys.executable).parent / "lychee")
    check = subprocess.run(
        [
            lychee,
            "--offline",
            "--include-fragments",
            "--index-files",
            "index.html",
            "--no-progress",
            "--exclude-path",
            str(built_site / "assets"),
            "--exclude-path",
            str(built_site / "404.html"),
            str(built_site),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]


STORE = ROOT / "cnn_guide" / "records"


def _benchmark(recipe: str = "benchmark", **kwargs) -> list:
    from cnn_guide.results import benchmark_rows

    return benchmark_rows(recipe, path=STORE, **kwargs)


def test_results_chapter_shows_every_recorded_benchmark_row(built_site):
    html = (built_site / "chapters" / "results" / "index.html").read_text()
    rows = _benchmark()
    assert rows, "the book's store holds no benchmark run"
    for run in rows:
        assert f">{run.model}</a>" in html, run.model  # linked to its chapter
        assert f"{run.test_accuracy:.4f}" in html, run.model


def test_chapters_show_their_own_benchmark_row(built_site):
    for run in _benchmark():
        chapters = [
            path.stem
            for path in (ROOT / "docs" / "chapters").glob("*.md")
            if f"<!-- benchmark: {run.model} -->" in path.read_text()
        ]
        assert chapters, f"no chapter shows {run.model}'s row"
        html = (built_site / "chapters" / chapters[0] / "index.html").read_text()
        assert f"{run.test_accuracy:.4f}" in html, (run.model, chapters[0])
        assert 'href="../results/"' in html  # the row links to the benchmark chapter


def test_fast_chapter_shows_the_comparison_and_the_ablation(built_site):
    from cnn_guide.comparison import load_comparisons
    from cnn_guide.report.comparison import render_goals

    html = (built_site / "chapters" / "fast" / "index.html").read_text()
    text = unescape(re.sub(r"<[^>]+>", "", html))
    comparisons = [c for c in load_comparisons(STORE).values() if not c.quick]
    assert comparisons, "no comparison of the fast recipe against the seed recipe is recorded"
    for comparison in comparisons:
        assert comparison.command in text
        for _, key in comparison.runs:
            assert f"cnn-guide train {key} --record" in text, key
    # The goals' verdicts are computed from the comparisons, not typed.
    for line in render_goals(STORE).splitlines()[2:]:
        cells = [cell.strip().replace("**", "") for cell in line.strip("|").split("|")]
        for cell in cells:
            assert cell in text, cell
    assert "What does each technique of the fast recipe buy" in text


def test_example_pages_end_with_their_recorded_full_run(built_site):
    from cnn_guide.evidence import full_run
    from cnn_guide.results import find

    planned = 0
    for example in sorted((ROOT / "examples").glob("*.py")):
        named = re.search(r'plan_example\(\s*"(\w+)"', example.read_text(encoding="utf-8"))
        if named is None:
            continue
        planned += 1
        html = (built_site / "examples" / example.stem / "index.html").read_text()
        run = find(full_run(named.group(1)), STORE)
        assert run is not None, f"{example.stem}: no full run recorded"
        assert f"Full run: test accuracy {run.test_accuracy:.4f}" in html, example.stem
        # The curves are drawn from the store, below the report.
        tail = html[html.rindex("Full run: test accuracy") :]
        assert re.search(r'<img[^>]+src="data:image/png', tail), example.stem
    assert planned >= 13  # every training example


def test_chapters_show_their_full_run_and_experiment(built_site):
    from cnn_guide.evidence import full_run
    from cnn_guide.experiments import get_experiment
    from cnn_guide.report.experiments import summary
    from cnn_guide.results import find

    chapters = ROOT / "docs" / "chapters"
    shown = 0
    for path in sorted(chapters.glob("*.md")):
        html = unescape((built_site / "chapters" / path.stem / "index.html").read_text())
        source = path.read_text()
        for name in re.findall(r"^<!-- experiment: ([\w-]+) -->$", source, re.M):
            experiment = get_experiment(name)
            assert experiment.question in html, name
            command = f"cnn-guide record --plan experiments --only {name}"
            assert command in html, name
            assert "test accuracy (seed)" in html, f"{name}: not recorded"
            # Its table, computed from the store: every seed's accuracy is on the page.
            first_row = summary(experiment, STORE).splitlines()[2]
            assert first_row.split(" | ")[3] in html, name
            assert "What the seeds show" in html, name
            shown += 1
        for model in re.findall(r"^<!-- full-run: (\w+) -->$", source, re.M):
            run = find(full_run(model), STORE)
            assert run is not None, f"{model}: no full run recorded"
            assert f"Full run: test accuracy {run.test_accuracy:.4f}" in html, model
            shown += 1
    assert shown >= 20


def test_results_chapter_judges_every_paper_result(built_site):
    from cnn_guide.experiments import get_experiment, list_experiments
    from cnn_guide.report.experiments import render_findings

    html = unescape((built_site / "chapters" / "results" / "index.html").read_text())
    text = re.sub(r"<[^>]+>", "", html)
    findings = render_findings(path=STORE)
    # The tally under the table, computed from the store.
    assert findings.splitlines()[-1].split(". Every row")[0] in text
    for name in list_experiments():
        if get_experiment(name).findings:
            chapter = next(
                path.stem
                for path in (ROOT / "docs" / "chapters").glob("*.md")
                if f"<!-- experiment: {name} -->" in path.read_text()
            )
            assert f'href="../{chapter}/#the-experiment">{name}</a>' in html
