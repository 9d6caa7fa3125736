"""Logging in and the editor actions (merge, split, move) as CSRF-protected forms.

The actions call ``aggregator.editing``, which stores a correction with an audit entry and
updates the stored clusters; they answer with a 303 back to the story.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from aggregator import editing
from aggregator.log import event
from aggregator.web import params
from aggregator.web.context import WebContext, ctx, editor, render, session_of
from aggregator.web.errors import ApiError
from aggregator.web.security import (
    LOGIN_COOKIE,
    LOGIN_S,
    SESSION_COOKIE,
    SESSION_S,
    Auth,
    Session,
    local_path,
    same_origin,
)

log = logging.getLogger("newsagg.web")
router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=params.MAX_ID)]
EditorSession = Annotated[Session, Depends(editor)]
FAILED_LOGIN_DELAY_S = 0.25
MAX_NOTE = 500


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )


async def _form(request: Request) -> FormData:
    try:
        return await request.form(max_files=0, max_fields=500)
    except Exception as exc:  # multipart parser errors: bad input, not a crash
        raise ApiError(400, "bad_request", "the form could not be read") from exc


def _field(form: FormData, name: str, max_len: int = 200) -> str | None:
    value = form.get(name)
    return params.text_param(value if isinstance(value, str) else None, name, max_len)


# -- login ----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    auth: Auth = ctx(request).auth
    nonce = auth.new_nonce()
    response = render(
        request,
        "login.html",
        login_csrf=auth.csrf_token(nonce),
        next=local_path(next),
        failed=False,
    )
    _cookie(response, request, LOGIN_COOKIE, nonce, LOGIN_S)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    auth: Auth = ctx(request).auth
    form = await _form(request)
    if not same_origin(request.headers, str(request.base_url)) or not auth.csrf_ok(
        request.cookies.get(LOGIN_COOKIE), _field(form, "csrf")
    ):
        raise ApiError(403, "forbidden", "the login form expired; open it again")
    token = form.get("token")
    role = auth.role_of(token) if isinstance(token, str) and 0 < len(token) <= 1000 else None
    target = local_path(_field(form, "next", 2000))
    if role is None:
        # slows guessing; the token itself is never logged
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        event(log, "web.login_failed", level=logging.WARNING)
        nonce = auth.new_nonce()
        page = render(
            request,
            "login.html",
            status=401,
            login_csrf=auth.csrf_token(nonce),
            next=target,
            failed=True,
        )
        _cookie(page, request, LOGIN_COOKIE, nonce, LOGIN_S)
        return page
    actor = (_field(form, "name", 60) or role).replace("\n", " ")
    _session, cookie = auth.new_session(role, actor)
    event(log, "web.login", role=role)
    done = RedirectResponse(target, status_code=303)
    _cookie(done, request, SESSION_COOKIE, cookie, SESSION_S)
    done.delete_cookie(LOGIN_COOKIE, path="/")
    return done


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = session_of(request)
    form = await _form(request)
    if session is None or not ctx(request).auth.csrf_ok(session.nonce, _field(form, "csrf")):
        raise ApiError(403, "forbidden", "bad or missing CSRF token")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- editor actions -------------------------------------------------------------------------


async def _checked(request: Request, session: Session) -> FormData:
    form = await _form(request)
    if not ctx(request).auth.csrf_ok(session.nonce, _field(form, "csrf")):
        raise ApiError(403, "forbidden", "bad or missing CSRF token")
    return form


def _actor(session: Session) -> str:
    return f"editor:{session.actor}"[:200]


def _id(form: FormData, name: str) -> int:
    value = params.int_text(_field(form, name, 24), name, 1)
    if value is None:
        raise params.bad(name, "required")
    return value


async def _learn(context: WebContext) -> None:
    """Let the clusterer learn the correction now, when it runs in this process."""
    if context.on_correction is not None:
        await run_in_threadpool(context.on_correction)


@router.post("/clusters/{cluster_id}/merge")
async def merge(request: Request, cluster_id: Id, session: EditorSession) -> Response:
    form = await _checked(request, session)
    other = _id(form, "other")
    context = ctx(request)
    survivor = await run_in_threadpool(
        editing.merge,
        context.store,
        [cluster_id, other],
        actor=_actor(session),
        note=_field(form, "note", MAX_NOTE) or "",
        now=context.clock(),
    )
    await _learn(context)
    return RedirectResponse(f"/clusters/{survivor}?merged=1", status_code=303)


@router.post("/clusters/{cluster_id}/split")
async def split(request: Request, cluster_id: Id, session: EditorSession) -> Response:
    form = await _checked(request, session)
    chosen = [
        params.int_text(v if isinstance(v, str) else None, "article", 1)
        for v in form.getlist("article")
    ]
    articles = [a for a in chosen if a is not None]
    if not articles:
        raise params.bad("article", "tick the articles to split off")
    context = ctx(request)
    new_id = await run_in_threadpool(
        editing.split,
        context.store,
        cluster_id,
        articles,
        actor=_actor(session),
        note=_field(form, "note", MAX_NOTE) or "",
        now=context.clock(),
    )
    await _learn(context)
    return RedirectResponse(f"/clusters/{cluster_id}?split={new_id}", status_code=303)


@router.post("/articles/{article_id}/move")
async def move(request: Request, article_id: Id, session: EditorSession) -> Response:
    form = await _checked(request, session)
    target = _id(form, "to")
    context = ctx(request)
    await run_in_threadpool(
        editing.move,
        context.store,
        article_id,
        target,
        actor=_actor(session),
        note=_field(form, "note", MAX_NOTE) or "",
        now=context.clock(),
    )
    await _learn(context)
    back = params.int_text(_field(form, "back", 24), "back", 1)
    return RedirectResponse(f"/clusters/{back or target}", status_code=303)
