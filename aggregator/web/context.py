"""What every route gets: the app's context, who is asking, and page rendering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from aggregator.metrics import Metrics
from aggregator.settings import Settings
from aggregator.web import views
from aggregator.web.errors import ApiError
from aggregator.web.security import SESSION_COOKIE, Auth, Session, same_origin

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class WebContext:
    settings: Settings
    store: Any  # storage.store.Store
    service: Any | None
    metrics: Metrics
    auth: Auth
    templates: Environment
    clock: Callable[[], datetime]
    # Called after an editor's correction is stored: the in-process clusterer learns it at
    # once (``newsagg run``); alone (``newsagg serve``) the workers learn it on their next tick.
    on_correction: Callable[[], None] | None = None

    @property
    def engine(self) -> Any:
        return self.store.engine


def make_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        time=views.fmt_time,
        duration=views.fmt_duration,
        href=views.safe_href,
        clean_html=views.clean_html,
        paragraphs=views.paragraphs,
    )
    return env


def ctx(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def session_of(request: Request) -> Session | None:
    return ctx(request).auth.session(request.cookies.get(SESSION_COOKIE))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def reader(request: Request) -> Session | None:
    """Dependency of every read route: open unless a read token is configured."""
    auth = ctx(request).auth
    session = session_of(request)
    if not auth.closed or session is not None:
        return session
    token = _bearer(request)
    if token is not None and auth.role_of(token) is not None:
        return None
    raise ApiError(401, "unauthorized", "log in or send Authorization: Bearer <read token>")


def editor(request: Request) -> Session:
    """Dependency of every editor action: an editor session, a valid CSRF token is checked
    by the form handler itself."""
    auth = ctx(request).auth
    if not auth.editing:
        raise ApiError(403, "forbidden", "editing is disabled: the operator set no editor token")
    session = session_of(request)
    if session is None or not session.editor:
        raise ApiError(401, "unauthorized", "log in as an editor first")
    if not same_origin(request.headers, str(request.base_url)):
        raise ApiError(403, "forbidden", "cross-site request refused")
    return session


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    context = ctx(request)
    session = session_of(request)
    html = context.templates.get_template(template).render(
        request_path=request.url.path,
        session=session,
        csrf=context.auth.csrf_token(session.nonce) if session else "",
        editing=context.auth.editing and session is not None and session.editor,
        editing_enabled=context.auth.editing,
        **values,
    )
    headers = {"Cache-Control": "no-store"} if session else {}
    return HTMLResponse(html, status_code=status, headers=headers)


def html_error(request: Request, status: int, code: str, message: str) -> Response:
    if status == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
    return render(request, "error.html", status=status, code=code, message=message)


def _quote(text: str) -> str:
    return quote(text, safe="")
