"""Each request's context: its session (from the cookie), its language, the API as this user,
and the page renderer, which writes the cookie back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from tasdir.settings import Settings

from console.adapters.api import Api
from console.config import ConsoleSettings
from console.service_layer import forms, i18n, views
from console.service_layer.labels import N_
from console.service_layer.session import COOKIE, CSRF_FIELD, CSRF_HEADER, Session, SessionCodec
from console.service_layer.signin import PrincipalSource

# A form is small: a few ids, a note of 2,000 characters at most.
MAX_FORM_BYTES = 64 * 1024
# Pages hold a user's data: never cached, never framed, scripts and styles of this origin only.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class NotSignedIn(Exception):
    """A page that needs a signed-in user; the handler sends the browser to the sign-in page."""


class BadForm(Exception):
    """A form without its CSRF token, or too large: 403 or 413."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


@dataclass
class ConsoleState:
    """What the app holds for every request (`app.state.console`)."""

    settings: ConsoleSettings
    codec: SessionCodec
    http: httpx.AsyncClient
    templates: Jinja2Templates
    principals: PrincipalSource
    token_settings: Settings | None = None


@dataclass
class Context:
    request: Request
    state: ConsoleState
    session: Session
    fresh: bool
    lang: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def root(self) -> str:
        """Where the console is mounted, as the browser sees it (`/console`)."""
        return str(self.request.scope.get("root_path") or self.state.settings.root_path)

    def url(self, path: str) -> str:
        return f"{self.root}{path}"

    @property
    def api(self) -> Api:
        return Api(self.state.http, self.state.settings.routes(), self.session.token, self.lang)

    def require_sign_in(self) -> Session:
        if not self.session.signed_in:
            raise NotSignedIn()
        return self.session

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        gettext = i18n.gettext_of(self.lang)
        response = self.state.templates.TemplateResponse(
            self.request,
            template,
            {
                "ctx": self,
                "session": self.session,
                "lang": self.lang,
                "langs": i18n.LANG_NAMES,
                "_": gettext,
                "label": i18n.labeller(self.lang),
                "region_of": lambda code: views.region_name(code, self.lang),
                "fmt": i18n.Formats(self.lang),
                "csrf_field": CSRF_FIELD,
                "done_messages": forms.DONE,
                **values,
            },
            status_code=status,
        )
        return self.keep(response)

    def redirect(self, path: str, session: Session | None = None) -> Response:
        if session is not None:
            self.session = session
            self.fresh = True
        return self.keep(RedirectResponse(self.url(path), status_code=303))

    def keep(self, response: Response) -> Response:
        """Write the session back when it is new or changed."""
        if self.fresh:
            settings = self.state.settings
            response.set_cookie(
                COOKIE,
                self.state.codec.encode(self.session),
                max_age=settings.session_ttl_seconds,
                path=self.root or "/",
                httponly=True,
                samesite="lax",
                secure=bool(settings.cookie_secure),
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def form(self) -> dict[str, list[str]]:
        """The posted form (url-encoded), once its CSRF token is checked against the
        session's: a form of another site cannot carry it."""
        body = await self.request.body()
        if len(body) > MAX_FORM_BYTES:
            raise BadForm(413, N_("The form is too large."))
        fields: dict[str, list[str]] = {}
        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            fields.setdefault(name, []).append(value)
        sent = self.request.headers.get(CSRF_HEADER) or _first(fields, CSRF_FIELD)
        if not self.session.csrf_matches(sent):
            raise BadForm(403, N_("The form has expired, or did not come from this console."))
        return fields


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def first(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    return _first(fields, name) or default


def all_of(fields: dict[str, list[str]], name: str) -> Sequence[str]:
    return [v for v in fields.get(name, []) if v]


def state_of(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def context(request: Request) -> Context:
    """The request's context (made once, and kept on the request for the error handlers)."""
    found = getattr(request.state, "console_context", None)
    if isinstance(found, Context):
        return found
    state = state_of(request)
    decoded = state.codec.decode(request.cookies.get(COOKIE))
    session = decoded or Session()
    lang = i18n.choose(session.lang, request.headers.get("Accept-Language"))
    made = Context(request, state, session, fresh=decoded is None, lang=lang)
    request.state.console_context = made
    return made
