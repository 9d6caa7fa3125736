"""Who may do what, and the headers that keep hostile content inert.

- Tokens are compared in constant time (HMAC digests of equal length, ``hmac.compare_digest``).
- A login sets ``newsagg_session``: a signed (HMAC-SHA256), HttpOnly, SameSite=Strict cookie
  carrying the role (``reader`` or ``editor``), a random nonce, the editor's chosen name and
  the issue time; it expires after ``SESSION_S``. The signing key derives from the configured
  tokens, so changing a token logs everyone out.
- Every form that changes something carries a CSRF token: an HMAC of the session's nonce. The
  login form itself is protected the same way with a short-lived pre-login nonce cookie.
- ``SecurityHeaders`` adds a strict Content-Security-Policy (no script at all, styles only from
  our stylesheet), ``frame-ancestors 'none'``, nosniff and no-referrer to every response.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "newsagg_session"
LOGIN_COOKIE = "newsagg_login"
SESSION_S = 12 * 3600
LOGIN_S = 1800
READER, EDITOR = "reader", "editor"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    role: str
    nonce: str
    actor: str
    issued: int

    @property
    def editor(self) -> bool:
        return self.role == EDITOR


class Auth:
    """Tokens, sessions and CSRF tokens. Holds the secrets; never logs or renders them."""

    def __init__(self, editor_token: str | None, read_token: str | None) -> None:
        self._editor = self._digest(editor_token) if editor_token else None
        self._reader = self._digest(read_token) if read_token else None
        material = f"{editor_token or ''}\0{read_token or ''}".encode()
        self._key = (
            hashlib.sha256(b"newsagg-web-session\0" + material).digest()
            if editor_token or read_token
            else secrets.token_bytes(32)
        )

    def __repr__(self) -> str:
        return f"Auth(editing={'on' if self.editing else 'off'}, closed={self.closed})"

    @staticmethod
    def _digest(token: str) -> bytes:
        return hmac.new(b"newsagg-token", token.encode("utf-8", "replace"), "sha256").digest()

    @property
    def editing(self) -> bool:
        """Whether editor actions exist at all (an editor token is configured)."""
        return self._editor is not None

    @property
    def closed(self) -> bool:
        """Whether reading needs a token too."""
        return self._reader is not None

    def role_of(self, token: str) -> str | None:
        """The role a token grants, compared in constant time against both secrets."""
        given = self._digest(token)
        is_editor = hmac.compare_digest(given, self._editor or b"\0" * 32)
        is_reader = hmac.compare_digest(given, self._reader or b"\0" * 32)
        if is_editor and self._editor is not None:
            return EDITOR
        if is_reader and self._reader is not None:
            return READER
        return None

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, "sha256").digest())

    # -- sessions ---------------------------------------------------------------------------

    def new_session(self, role: str, actor: str) -> tuple[Session, str]:
        session = Session(role, secrets.token_urlsafe(18), actor, int(time.time()))
        body = json.dumps(
            {"r": session.role, "n": session.nonce, "a": session.actor, "t": session.issued},
            separators=(",", ":"),
        ).encode()
        return session, f"{_b64(body)}.{self._sign(body)}"

    def session(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 2000 or cookie.count(".") != 1:
            return None
        body_text, mac = cookie.split(".")
        try:
            body = _unb64(body_text)
            if not hmac.compare_digest(mac, self._sign(body)):
                return None
            data = json.loads(body)
            session = Session(str(data["r"]), str(data["n"]), str(data["a"]), int(data["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        fresh = 0 <= time.time() - session.issued <= SESSION_S
        allowed = session.role == READER or (session.role == EDITOR and self.editing)
        return session if fresh and allowed else None

    # -- CSRF -------------------------------------------------------------------------------

    def csrf_token(self, nonce: str) -> str:
        return self._sign(b"csrf\0" + nonce.encode())

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or len(token) > 200:
            return False
        return hmac.compare_digest(token, self.csrf_token(nonce))

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(18)


def same_origin(headers: Any, host_url: str) -> bool:
    """False when the browser says the request came from another site."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    return origin is None or origin.rstrip("/") == host_url.rstrip("/")


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target inside this site (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target) or len(target) > 2000:
        return default
    return target


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response (streams too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
