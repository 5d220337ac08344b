"""Server-side HTML: Jinja2 templates with autoescaping, and the links between pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from llmcompiler_provider.ui import formatting

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=formatting.when,
        seconds=formatting.seconds,
        ratio=formatting.ratio,
        percent=formatting.percent,
        count=formatting.count,
        money=formatting.money,
        path_part=lambda value: quote(str(value), safe=""),
    )
    return environment


ENVIRONMENT = _environment()


def base_path(request: Request) -> str:
    """Where this app is mounted (``/llmcompiler`` in Airflow, plus Airflow's own base path)."""
    return str(request.scope.get("root_path") or "").rstrip("/")


def link(request: Request, path: str, **query: Any) -> str:
    """A path inside this app, with the query parameters that have a value."""
    shown = {key: value for key, value in query.items() if value not in (None, "")}
    return base_path(request) + path + (f"?{urlencode(shown)}" if shown else "")


def run_link(request: Request, run_id: str) -> str:
    return link(request, f"/runs/{quote(run_id, safe='')}")


def batch_link(request: Request, batch_id: str, **query: Any) -> str:
    return link(request, f"/batches/{quote(batch_id, safe='')}", **query)


def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = ENVIRONMENT.get_template(template).render(
        base=base_path(request),
        path=request.url.path,
        link=lambda path, **query: link(request, path, **query),
        run_link=lambda run_id: run_link(request, run_id),
        batch_link=lambda batch_id: batch_link(request, batch_id),
        svg=Markup,  # SVG built in Python by ui.svg, which escapes every text and attribute
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
