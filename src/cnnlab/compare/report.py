"""A self-contained ``report.html``: table, chart, and each model's stage table and diagram.

No network access is needed to open it: CSS is inline, the chart is embedded as a base64 data URI,
diagrams are inline SVG, and there is no script at all.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import asdict, dataclass, field

from cnnlab.compare.diagram import Diagram
from cnnlab.compare.recorded import RecordedRun
from cnnlab.compare.table import MD_HEADERS, ComparisonRow, format_cell, markdown_columns

__all__ = ["ModelSection", "ReportPage", "render_report", "stage_table_to_html", "markdown_table_to_html"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; color: #1d1d1f; background: #ffffff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 1.6em; }
h3 { margin-bottom: 0.3em; }
.meta { color: #555; font-size: 0.92em; }
.meta td { padding: 1px 12px 1px 0; }
table.data { border-collapse: collapse; font-size: 0.86em; margin: 8px 0; }
table.data th, table.data td { border: 1px solid #d0d7de; padding: 4px 8px; }
table.data th { background: #f3f5f7; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data tr:nth-child(even) td { background: #fafbfc; }
.chart img { width: 100%; max-width: 1300px; height: auto; border: 1px solid #eee; }
.model-body { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 28px; align-items: start; }
.diagram { overflow-x: auto; border: 1px solid #eee; padding: 6px; }
.diagram svg { max-width: 100%; height: auto; }
@media (max-width: 900px) { .model-body { grid-template-columns: 1fr; } }
.note { color: #555; font-size: 0.88em; }
section.model { margin-bottom: 2em; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 0.85em; }
"""


@dataclass
class ModelSection:
    name: str
    family: str
    paper: str
    stage_table_html: str
    diagram: Diagram | None
    notes: list[str] = field(default_factory=list)
    explore_href: str | None = None  # the model's `cnnlab explore` page, relative to report.html


@dataclass
class ReportPage:
    title: str
    meta: list[tuple[str, str]]
    rows: list[ComparisonRow]
    chart_svg: bytes
    models: list[ModelSection]
    column_notes: list[tuple[str, str]] = field(default_factory=list)
    curves_svg: bytes | None = None  # learning curves (accuracy vs epoch and vs CPU seconds), when trained
    curves_note: str = ""
    recorded: RecordedRun | None = None  # converged accuracy recorded for this data (not this run)


def safe_name(name: str) -> str:
    """A model name as an HTML id and a file name: every character but letters, digits, ``_`` and ``-`` → ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def markdown_table_to_html(markdown: str) -> str | None:
    """A pipe table (``| a | b |`` lines, second line the ``---`` rule) as an HTML table, else None."""
    lines = [line.strip() for line in markdown.strip().splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith("|") or not re.fullmatch(r"\|?[\s:|-]+\|?", lines[1]):
        return None

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip("|").split("|")]

    head = "".join(f"<th>{_esc(c)}</th>" for c in cells(lines[0]))
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(c).replace('&lt;br&gt;', '<br>')}</td>" for c in cells(line)) + "</tr>"
        for line in lines[2:]
        if line.startswith("|")
    )
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b:?\s*")


def _short_sentence(text: str) -> str:
    """What stands for a stage table cnnlab could not derive: one short sentence, never an exception's
    class name or a traceback."""
    lines = text.strip().splitlines()
    if not lines or any(line.startswith("Traceback") for line in lines):
        return "No stage table for this model."
    sentence = _EXCEPTION_NAME.sub("", lines[0]).strip()
    if len(sentence) > 240:
        sentence = sentence[:239].rstrip() + "…"
    return sentence[:1].upper() + sentence[1:] if sentence else "No stage table for this model."


def stage_table_to_html(table: object) -> str:
    """HTML for whatever a stage table renders to: its own HTML, or a Markdown pipe table (the lines after
    it, such as the layout's source, as notes). Anything else — the reason a model has no stage table —
    becomes one short sentence."""
    render = getattr(table, "to_html", None)
    if callable(render):
        return str(render())
    render = getattr(table, "to_markdown", None)
    text = str(render() if callable(render) else table)
    converted = markdown_table_to_html(text)
    if converted is None:
        return f'<p class="note">{_esc(_short_sentence(text))}</p>'
    notes = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("|")]
    return converted + "".join(f'<p class="note">{_esc(n)}</p>' for n in notes)


def _comparison_table(rows: list[ComparisonRow]) -> str:
    columns = markdown_columns(rows)
    head = "".join(f"<th>{_esc(MD_HEADERS[c])}</th>" for c in columns)
    body = []
    for row in rows:
        values = asdict(row)
        tds = []
        for column in columns:
            css = "" if column in ("model", "family", "imagenet_source") else ' class="num"'
            tds.append(f"<td{css}>{_esc(format_cell(column, values[column]))}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _model_section(section: ModelSection) -> str:
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in section.notes)
    diagram = (
        f'<div class="diagram">{section.diagram.svg}</div>'
        f'<p class="note">Diagram drawn with {_esc(section.diagram.renderer)}.</p>'
        if section.diagram is not None
        else '<p class="note">No diagram.</p>'
    )
    anchor = safe_name(section.name)
    link = f' · <a href="{_esc(section.explore_href)}">explore this network</a>' if section.explore_href else ""
    return (
        f'<section class="model" id="model-{anchor}"><h3>{_esc(section.name)}</h3>'
        f'<p class="note">{_esc(section.family)} · {_esc(section.paper)}{link}</p>'
        f'<div class="model-body"><div><h4>Stage table</h4>{section.stage_table_html}{notes}</div>'
        f"<div><h4>Stages and blocks</h4>{diagram}</div></div></section>"
    )


def _curves_section(page: ReportPage) -> str:
    if page.curves_svg is None:
        return ""
    image = base64.b64encode(page.curves_svg).decode("ascii")
    return ('<h2>Learning curves</h2><div class="chart">'
            f'<img alt="learning curves" src="data:image/svg+xml;base64,{image}"></div>'
            f'<p class="note">{_esc(page.curves_note)}</p>')  # fmt: skip


def _recorded_section(page: ReportPage) -> str:
    """The accuracy these networks reach at convergence, recorded by the benchmark: labelled with its date
    and command, never mixed into the live table."""
    run = page.recorded
    if run is None or not run.rows:
        return ""
    here = {row.model for row in page.rows}
    body = "".join(
        f"<tr><td>{_esc(r.model)}{' (this run)' * (r.model in here)}</td><td>{r.params:,}</td>"
        f"<td>{r.macs / 1e6:.2f} M</td><td>{r.test_top1:.2f}</td>"
        f"<td>{'—' if r.test_top1_2sigma is None else f'± {r.test_top1_2sigma:.2f}'}</td></tr>"
        for r in sorted(run.rows, key=lambda r: r.macs))
    return ("<h2>At convergence (recorded)</h2>"
            f'<p class="note">Not measured by this run: {_esc(run.caption)}, on {_esc(run.data)} at '
            f"{run.image_size}×{run.image_size}, every training image, the full test set. The chart draws them "
            "as hollow diamonds.</p>"
            "<table><tr><th>model</th><th>params</th><th>MACs</th><th>test top-1 %</th><th>binomial 2σ</th></tr>"
            f"{body}</table>")  # fmt: skip


def render_report(page: ReportPage) -> str:
    """The whole page as one HTML string."""
    meta = "".join(f"<tr><td><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>" for k, v in page.meta)
    chart = base64.b64encode(page.chart_svg).decode("ascii")
    column_notes = "".join(f"<li><b>{_esc(k)}</b>: {_esc(v)}</li>" for k, v in page.column_notes)
    toc = " · ".join(
        f'<a href="#model-{safe_name(m.name)}">{_esc(m.name)}</a>' for m in page.models
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(page.title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_esc(page.title)}</h1><table class=\"meta\">{meta}</table>"
        f"<h2>Comparison</h2>{_comparison_table(page.rows)}"
        f'<ul class="note">{column_notes}</ul>'
        '<h2>Accuracy vs MACs</h2><div class="chart">'
        f'<img alt="accuracy vs MACs chart" src="data:image/svg+xml;base64,{chart}"></div>'
        + _recorded_section(page)
        + _curves_section(page)
        + f'<h2>Models</h2><p class="note">{toc}</p>'
        + "".join(_model_section(m) for m in page.models)
        + "</body></html>\n"
    )
