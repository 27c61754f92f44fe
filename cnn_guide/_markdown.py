"""The one way the package writes a Markdown table (the report's and the analysis' alike)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["markdown_table"]


def markdown_table(
    headings: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: Collection[int] = ()
) -> str:
    """A GitHub-flavoured Markdown table; a ``|`` inside a cell is escaped.

    Args:
        headings: The column headings.
        rows: The cells of each row, as text, one per heading.
        numeric: Indexes of the columns aligned right (numbers).

    Raises:
        ValueError: For a row whose cells do not match the headings.
    """
    for row in rows:
        if len(row) != len(headings):
            raise ValueError(
                f"a table row has {len(row)} cells for {len(headings)} headings: {list(row)!r}; "
                "give one cell per heading (an empty string for none)."
            )
    rule = ["---:" if index in numeric else "---" for index in range(len(headings))]
    cells = [[cell.replace("|", "\\|") for cell in row] for row in rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in [list(headings), rule, *cells])
