"""Generate one API reference page per public module of cnn_guide."""

import ast
import re
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnn_guide"
DOCS = ROOT / "docs"

# Chapters that use a module without naming it in its source ("chapters/x.md").
USED_IN = {
    "cnn_guide.analysis": ["foundations", "simple-cnn", "choosing"],
    "cnn_guide.training": [
        "simple-cnn",
        "batch-norm",
        "xception",
        "densenet",
        "mobilenet",
        "resnext",
        "results",
        "fast",
        "distributed",
    ],
    "cnn_guide.distribute": ["distributed"],
    "cnn_guide.data": ["simple-cnn"],
    "cnn_guide.plotting": ["foundations", "simple-cnn", "results"],
    "cnn_guide.recipes": ["results", "fast", "distributed"],
    "cnn_guide.runs": ["results", "fast", "choosing"],
    "cnn_guide.machine": ["results", "fast"],
    "cnn_guide.statistics": ["results"],
    "cnn_guide.results": ["choosing", "results", "fast"],
    "cnn_guide.report.markers": ["results"],
    "cnn_guide.report.tables": ["results"],
    "cnn_guide.report.runs": ["choosing", "results"],
    "cnn_guide.report.comparison": ["fast"],
    "cnn_guide.report.experiments": ["fast", "results"],
    "cnn_guide.budget": ["simple-cnn"],
    "cnn_guide.cli.train": ["simple-cnn", "distributed"],
    "cnn_guide.cli.bench": ["results", "choosing", "fast"],
}


def chapter_links(module: str, source: Path, depth: int) -> str:
    """A line linking an API page back to the chapters that teach its contents.

    Chapters are found in the module's source (``chapters/<name>.md``, as the
    registry and docstrings name them) and in `USED_IN`; each link is titled
    with the chapter's first heading.
    """
    names = re.findall(r"chapters/([\w-]+)\.md", source.read_text())
    names = list(dict.fromkeys([*names, *USED_IN.get(module, [])]))
    links = []
    for name in names:
        chapter = DOCS / "chapters" / f"{name}.md"
        if chapter.is_file():
            title = chapter.read_text().splitlines()[0].lstrip("# ").strip()
            links.append(f"[{title}]({'../' * depth}chapters/{name}.md)")
    return f"Taught in: {', '.join(links)}.\n\n" if links else ""


def package_members(init: Path) -> str:
    """Options for a package page: its own ``__all__`` only, never re-exports.

    Packages re-export their modules' members (``from .x import *``); listing
    them again would document every builder and block twice.
    """
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == "__all__" for t in targets) and node.value:
                names = ast.literal_eval(node.value)
                if names:
                    return "\n    options:\n      members: [" + ", ".join(names) + "]"
    return "\n    options:\n      members: false"


nav = mkdocs_gen_files.Nav()
for path in sorted(PACKAGE.rglob("*.py")):
    module = path.relative_to(ROOT).with_suffix("")
    parts = module.parts
    if any(part.startswith("_") and part != "__init__" for part in parts):
        # Private modules (cli/_args.py, _compat.py, ...) and cli/__main__.py:
        # documented through their public re-exports, or not at all.
        continue
    doc = Path(*parts).with_suffix(".md")
    options = ""
    if parts[-1] == "__init__":
        parts = parts[:-1]
        doc = doc.with_name("index.md")
        if len(parts) > 1:
            options = package_members(path)
    nav[parts] = doc.as_posix()
    with mkdocs_gen_files.open(Path("reference", doc), "w") as page:
        module_name = ".".join(parts)
        links = chapter_links(module_name, path, depth=len(doc.parts))
        page.write(f"# `{module_name}`\n\n{links}::: {module_name}{options}\n")
    mkdocs_gen_files.set_edit_path(Path("reference", doc), path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as summary:
    summary.writelines(nav.build_literate_nav())
