"""A self-contained HTML page: inline CSS, no scripts, no fonts or images from anywhere.

Reports must render styled on an operator's laptop without network; nothing here refers to an
outside URL.
"""

from __future__ import annotations

from html import escape

CSS = """
:root { --ok: #1a7f37; --warn: #9a6700; --fail: #cf222e; --skip: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       background: #f6f8fa; margin: 0; padding: 24px; }
main { max-width: 1200px; margin: 0 auto; background: #fff; border: 1px solid var(--line);
       border-radius: 8px; padding: 20px 28px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
.meta { color: #57606a; margin-bottom: 16px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; padding: 6px 10px; vertical-align: top;
         border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 12px; font-weight: 600; }
.passed, .ok { background: var(--ok); }
.warn { background: var(--warn); }
.failed, .error, .fail { background: var(--fail); }
.skipped, .nodata { background: var(--skip); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 20px; }
a { color: #0969da; }
"""


def badge(text: str, css_class: str | None = None) -> str:
    return f'<span class="badge {escape(css_class or text)}">{escape(text)}</span>'


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
