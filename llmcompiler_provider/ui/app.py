"""The FastAPI app behind the Airflow plugin: HTML pages and their JSON endpoints.

``create_app()`` works on its own (no login, every run readable), e.g.::

    uvicorn --factory llmcompiler_provider.ui.app:create_standalone_app

Airflow mounts it at ``/llmcompiler`` with Airflow's authentication (see ``ui.plugin``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmcompiler_provider.links import URL_PREFIX
from llmcompiler_provider.store import StoreError, display_url, resolve_store_url
from llmcompiler_provider.store.errors import describe_error
from llmcompiler_provider.ui import queries
from llmcompiler_provider.ui.access import ViewerDependency, everyone
from llmcompiler_provider.ui.api import api_router
from llmcompiler_provider.ui.pages import page_router
from llmcompiler_provider.ui.redact import redact_text
from llmcompiler_provider.ui.rendering import base_path, page

SECURITY_HEADERS = {
    # no scripts at all; inline styles for the SVG pictures; framed only by the Airflow UI (same origin)
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ERROR_TITLES = {400: "Bad request", 401: "Not logged in", 403: "Not allowed", 404: "Not found",
                422: "Bad request", 503: "Metrics store unavailable"}


def _wants_json(request: Request) -> bool:
    return request.url.path.removeprefix(base_path(request)).startswith("/api/")


def _error(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status_code, headers=headers)
    title = ERROR_TITLES.get(status_code, "Error")
    response = page(request, "error.html", status_code=status_code, title=title, message=message)
    response.headers.update(headers or {})
    return response


def _store_message(request: Request, exc: Exception) -> str:
    where = display_url(resolve_store_url(request.app.state.store_url))
    return redact_text(f"The metrics store at {where} cannot be read: {describe_error(exc)}")


def _validation_message(exc: RequestValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()]
    return "Invalid request (" + "; ".join(problems) + ")."


def _install_error_handlers(app: FastAPI) -> None:
    handlers = {
        queries.RunNotFound: lambda request, exc: _error(request, 404, str(exc)),
        queries.BatchNotFound: lambda request, exc: _error(request, 404, str(exc)),
        queries.RunForbidden: lambda request, exc: _error(request, 403, str(exc)),
        queries.BadFilter: lambda request, exc: _error(request, 400, str(exc)),
        SQLAlchemyError: lambda request, exc: _error(request, 503, _store_message(request, exc)),
        StoreError: lambda request, exc: _error(request, 503, _store_message(request, exc)),
        RequestValidationError: lambda request, exc: _error(request, 422, _validation_message(exc)),
        StarletteHTTPException: lambda request, exc: _error(
            request, exc.status_code, _http_message(exc), getattr(exc, "headers", None)
        ),
    }
    for exception_class, handler in handlers.items():
        app.add_exception_handler(exception_class, handler)


def _http_message(exc: StarletteHTTPException) -> str:
    if exc.status_code == 401:
        return "You are not logged in to Airflow; log in and open this page again."
    if exc.status_code == 403:
        return "You are not allowed to see this page."
    return str(exc.detail)


def create_app(store_url: str | None = None, *, viewer: ViewerDependency = everyone) -> FastAPI:
    """The app; ``store_url`` defaults to ``store.resolve_store_url()`` at each request.

    ``viewer`` is a FastAPI dependency returning a ``ui.access.Viewer``: who is
    asking and which DAGs' runs they may read. Nothing connects to the store
    until the first request.
    """
    app = FastAPI(
        title="LLMCompiler runs",
        description="Runs recorded by the LLMCompiler provider: plans, tasks per worker, timings and trends; "
                    "batches of runs and their progress.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN
        redoc_url=None,
    )
    app.state.store_url = store_url
    app.include_router(api_router(viewer))
    app.include_router(page_router(viewer))
    _install_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def create_standalone_app(store_url: str | None = None) -> FastAPI:
    """The app mounted at ``/llmcompiler`` as in Airflow, without login (for local use and tests)."""
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    root.mount(URL_PREFIX, create_app(store_url))

    @root.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{URL_PREFIX}/runs")

    return root
