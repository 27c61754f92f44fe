"""Generate one API reference page per public module of cnn_guide."""

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnn_guide"

nav = mkdocs_gen_files.Nav()
for path in sorted(PACKAGE.rglob("*.py")):
    module = path.relative_to(ROOT).with_suffix("")
    parts = module.parts
    if any(part.startswith("_") and part != "__init__" for part in parts):
        continue  # private modules are documented through their public re-exports
    doc = Path(*parts).with_suffix(".md")
    if parts[-1] == "__init__":
        parts = parts[:-1]
        doc = doc.with_name("index.md")
    nav[parts] = doc.as_posix()
    with mkdocs_gen_files.open(Path("reference", doc), "w") as page:
        page.write(f"# `{'.'.join(parts)}`\n\n::: {'.'.join(parts)}\n")
    mkdocs_gen_files.set_edit_path(Path("reference", doc), path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as summary:
    summary.writelines(nav.build_literate_nav())
