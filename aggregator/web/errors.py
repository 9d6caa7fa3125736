"""One error shape: ``{"error": {"code", "message"}}`` for the API, an error page for browsers.

Bad input is a 4xx, never a 500: validation errors, bad cursors, unknown ids, search syntax.
An unexpected exception is logged once (type only, never the request's secrets) and answered
with a 500 in the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregator.errors import ConflictError, InputError, NewsaggError, NotFoundError, StorageError
from aggregator.log import event

log = logging.getLogger("newsagg.web")
JSON_PATHS = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json")
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_request",
    503: "unavailable",
}
HtmlRenderer = Callable[[Request, int, str, str], Response]


class ApiError(Exception):
    """An error the client should see as is."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(JSON_PATHS):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where or 'request'}: {str(error.get('msg', 'invalid'))[:120]}")
    return "; ".join(parts) or "invalid request"


def _from_newsagg(exc: NewsaggError) -> ApiError:
    message = str(exc)[:500]
    if isinstance(exc, InputError):
        return ApiError(400, exc.code, message)
    if isinstance(exc, NotFoundError):
        return ApiError(404, "not_found", message)
    if isinstance(exc, ConflictError):
        return ApiError(409, "conflict", message)
    if isinstance(exc, StorageError):
        event(log, "web.storage_error", level=logging.WARNING, error=type(exc).__name__)
        return ApiError(503, "unavailable", "the database is unavailable; try again")
    return ApiError(500, "internal", "internal error")


def install_error_handlers(app: FastAPI, html: HtmlRenderer) -> None:
    def respond(
        request: Request, error: ApiError, headers: dict[str, str] | None = None
    ) -> Response:
        if wants_json(request):
            body = {"error": {"code": error.code, "message": error.message}}
            return JSONResponse(body, status_code=error.status, headers=headers)
        response = html(request, error.status, error.code, error.message)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    async def on_api_error(request: Request, exc: Any) -> Response:
        return respond(request, exc)

    async def on_validation(request: Request, exc: Any) -> Response:
        return respond(request, ApiError(400, "bad_request", _validation_message(exc)))

    async def on_http(request: Request, exc: Any) -> Response:
        status = exc.status_code if 400 <= exc.status_code < 600 else 500
        code = HTTP_CODES.get(status, "error")
        message = str(exc.detail) if isinstance(exc.detail, str) else code.replace("_", " ")
        return respond(
            request, ApiError(status, code, message[:300]), getattr(exc, "headers", None)
        )

    async def on_newsagg(request: Request, exc: Any) -> Response:
        return respond(request, _from_newsagg(exc))

    async def on_crash(request: Request, exc: Exception) -> Response:
        event(
            log, "web.crash", level=logging.ERROR, path=request.url.path, error=type(exc).__name__
        )
        return respond(request, ApiError(500, "internal", "internal error"))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(NewsaggError, on_newsagg)
    app.add_exception_handler(Exception, on_crash)
