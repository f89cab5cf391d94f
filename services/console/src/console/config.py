"""The console's own settings: `TASDIR_CONSOLE_*` environment variables, and the environment
(`TASDIR_ENVIRONMENT`) the rest of Tasdir reads.

Secure by default, as `tasdir.settings` is: outside development the session key must be set,
at least 32 bytes, and not the committed dev key; the session cookie is then `Secure`.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tasdir.settings import MIN_SECRET_BYTES, SettingsError, describe_error

DEV_SESSION_KEY = "tasdir-console-dev-session-key-change-me-0123456789"
PREFIX = "TASDIR_CONSOLE_"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        default="production",
        validation_alias=AliasChoices("TASDIR_ENVIRONMENT", "environment"),
    )
    # The public API: one base URL (the gateway, or the embedded server)...
    api_url: str = "http://127.0.0.1:8000"
    # ...or, per path prefix, another one (`/v1/match-sets=http://127.0.0.1:8003,...`), as
    # `make stack` serves each service on its own port.
    api_routes: str = ""
    api_timeout_seconds: float = Field(default=10.0, gt=0)
    # The key the session cookie is encrypted and signed with (Fernet, derived by HKDF).
    session_key: SecretStr | None = None
    session_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    # `Secure` on the cookie: on by default outside development (where plain http is usual).
    cookie_secure: bool | None = None
    # Where the console is served from the browser's point of view (the mount path).
    root_path: str = ""

    @model_validator(mode="after")
    def _secure_by_default(self) -> ConsoleSettings:
        development = self.environment == "development"
        if self.session_key is None:
            if not development:
                raise SettingsError(
                    f"set TASDIR_CONSOLE_SESSION_KEY (at least {MIN_SECRET_BYTES} bytes); the dev "
                    "key is used only with TASDIR_ENVIRONMENT=development"
                )
            self.session_key = SecretStr(DEV_SESSION_KEY)
        key = self.session_key.get_secret_value()
        if key == DEV_SESSION_KEY and not development:
            raise SettingsError(
                "TASDIR_CONSOLE_SESSION_KEY is the committed dev key: set a key of your own, or "
                "TASDIR_ENVIRONMENT=development"
            )
        if len(key.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(
                f"TASDIR_CONSOLE_SESSION_KEY must be at least {MIN_SECRET_BYTES} bytes"
            )
        if self.cookie_secure is None:
            self.cookie_secure = not development
        return self

    @property
    def development(self) -> bool:
        return self.environment == "development"

    def routes(self) -> dict[str, str]:
        """The API base URL of each path prefix; `""` (every other path) is `api_url`."""
        found = {"": self.api_url.rstrip("/")}
        for item in self.api_routes.split(","):
            prefix, _, url = item.strip().partition("=")
            if prefix and url:
                found[prefix.rstrip("/")] = url.rstrip("/")
        return found


@cache
def get_console_settings() -> ConsoleSettings:
    return ConsoleSettings()


def check_console_settings() -> ConsoleSettings:
    """The settings, or a `SettingsError` naming the variable to fix (checked at start)."""
    try:
        return get_console_settings()
    except ValidationError as exc:
        raise SettingsError(describe_error(exc, prefix=PREFIX)) from None
