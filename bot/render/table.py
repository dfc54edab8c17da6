"""Aligned plain-text tables for the CLI and the console."""

from __future__ import annotations


def text_table(rows: list[list[str]], right_aligned: set[int], indent: str = "  ") -> list[str]:
    """Rows of cells padded to their column's width; columns in `right_aligned` align right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
