"""Every error is an HTML page at its own status, in the user's language, never a trace: what
the API said (its problem+json `detail`) is shown as it said it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.adapters.api import ApiError, ApiUnavailable
from console.entrypoints.context import BadForm, NotSignedIn, context
from console.entrypoints.pages import SignInUnavailable
from console.service_layer import i18n

log = logging.getLogger(__name__)


def _page(request: Request, status: int, title: str, detail: str = "", **extra: object) -> Response:
    ctx = context(request)
    return ctx.render("error.html", status=status, code=status, title=title, detail=detail, **extra)


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        return context(request).redirect("/sign-in")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        ctx = context(request)
        if exc.status == 401:
            # The token expired, or was revoked: sign in again.
            return ctx.redirect("/sign-in", ctx.session.signed_out())
        _ = i18n.gettext_of(ctx.lang)
        return _page(request, exc.status, exc.title or _("Error"), exc.detail, problem=exc)

    @app.exception_handler(ApiUnavailable)
    async def _unavailable(request: Request, exc: ApiUnavailable) -> Response:
        log.warning("the API is unreachable: %s", exc)
        _ = i18n.gettext_of(context(request).lang)
        return _page(request, 502, _("The service is unreachable"), _("Try again in a moment."))

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, exc: BadForm) -> Response:
        _ = i18n.gettext_of(context(request).lang)
        return _page(request, exc.status, _("The form was refused"), _(exc.detail))

    @app.exception_handler(SignInUnavailable)
    async def _no_sign_in(request: Request, _exc: SignInUnavailable) -> Response:
        _ = i18n.gettext_of(context(request).lang)
        return _page(
            request,
            501,
            _("Sign-in is not available yet"),
            _(
                "Signing in through your organisation's identity provider (OpenID Connect) "
                "is not built yet. The dev sign-in works under TASDIR_ENVIRONMENT=development."
            ),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        _ = i18n.gettext_of(context(request).lang)
        fields = ", ".join(sorted({str(e.get("loc", ("",))[-1]) for e in exc.errors()}))
        return _page(request, 404, _("Page not found"), _("This address is not valid: ") + fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        _ = i18n.gettext_of(context(request).lang)
        titles = {404: _("Page not found"), 405: _("This action is not allowed here")}
        return _page(request, exc.status_code, titles.get(exc.status_code, _("Error")))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("the console failed on %s %s", request.method, request.url.path)
        _ = i18n.gettext_of(context(request).lang)
        return _page(
            request,
            500,
            _("Something went wrong"),
            _("The error was logged. Try again, or go back to the queue."),
        )
