"""A rendered table's Markdown as a standalone HTML page: what the Snakemake report shows
inline (it embeds HTML files, while a .md or .csv is only a download)."""

from __future__ import annotations

import html
from pathlib import Path

from mmcbench.core import atomic

STYLE = """
body { font-family: sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
"""


def markdown_page(text: str, title: str) -> str:
    """`text` (Markdown with pipe tables) as an HTML document."""
    import markdown

    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def write_markdown_page(target: str | Path, text: str, title: str) -> None:
    """Write `markdown_page(text, title)` to `target` atomically."""
    atomic.write_text(target, markdown_page(text, title))
