"""Generate one API reference page per public module of cnn_guide."""

import ast
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnn_guide"


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
        continue  # private modules are documented through their public re-exports
    doc = Path(*parts).with_suffix(".md")
    options = ""
    if parts[-1] == "__init__":
        parts = parts[:-1]
        doc = doc.with_name("index.md")
        if len(parts) > 1:
            options = package_members(path)
    nav[parts] = doc.as_posix()
    with mkdocs_gen_files.open(Path("reference", doc), "w") as page:
        page.write(f"# `{'.'.join(parts)}`\n\n::: {'.'.join(parts)}{options}\n")
    mkdocs_gen_files.set_edit_path(Path("reference", doc), path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as summary:
    summary.writelines(nav.build_literate_nav())
