"""Markdown tables, all through `tabulate` (pipe format: GitHub renders it, alignment included)."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], align: Sequence[str] | None = None) -> str:
    """`align`: "left" / "right" per column (default: the first left, the rest right). Cells are
    printed as given (no number parsing: "1,000" and "n/c" stay as they are)."""
    from tabulate import tabulate

    align = list(align) if align is not None else ["left"] + ["right"] * (len(headers) - 1)
    return tabulate([[str(cell) for cell in row] for row in rows], headers=list(headers), tablefmt="pipe",
                    colalign=align, disable_numparse=True)
