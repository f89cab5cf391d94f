"""The one settings object of Tasdir, read from `TASDIR_*` environment variables.

Secure by default: the environment is `production` unless `TASDIR_ENVIRONMENT=development` is
set explicitly (the make targets and the tests set it). Outside development a service needs a
JWKS URL or a shared secret of at least 32 bytes, and never accepts the committed dev secret.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEV_JWT_SECRET = "tasdir-dev-secret-change-me-0123456789"
MIN_SECRET_BYTES = 32
ENV_PREFIX = "TASDIR_"
_DATABASE_URL_VAR = re.compile(r"^TASDIR_([A-Z0-9_]+)_DATABASE_URL$")


class SettingsError(ValueError):
    """The configuration cannot run; the message names the variable to set."""


class _PerServiceDatabaseUrls(PydanticBaseSettingsSource):
    """`TASDIR_<SERVICE>_DATABASE_URL` → `database_urls[<service>]`.

    The library knows no service by name, so these variables are gathered by pattern.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        urls = {
            match.group(1).lower(): value
            for name, value in os.environ.items()
            if (match := _DATABASE_URL_VAR.match(name.upper())) and value
        }
        return {"database_urls": urls} if urls else {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    environment: Literal["development", "production"] = "production"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "tasdir:"
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432"
    database_prefix: str = "tasdir_"
    # Per service, from `TASDIR_<SERVICE>_DATABASE_URL`; otherwise
    # `<postgres_url>/<database_prefix><service>`.
    database_urls: dict[str, str] = Field(default_factory=dict)

    # Verification: a shared secret (HS256) or the keys of an identity provider (JWKS).
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_timeout_seconds: float = Field(default=3.0, gt=0)
    jwks_cache_seconds: float = Field(default=300.0, ge=0)

    consumer_prefetch: int = Field(default=10, ge=1)
    # The outbox relay: a row that fails is retried with exponential backoff and jitter, from
    # `relay_retry_base_seconds` up to `relay_retry_max_seconds`, and set aside only once it
    # has failed for `relay_park_after_seconds`.
    relay_batch_size: int = Field(default=100, ge=1)
    relay_poll_seconds: float = Field(default=0.2, gt=0)
    relay_retry_base_seconds: float = Field(default=0.5, gt=0)
    relay_retry_max_seconds: float = Field(default=30.0, gt=0)
    relay_park_after_seconds: float = Field(default=600.0, ge=0)

    # Limits. A rate limit of 0 turns the limiter off.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    rate_limit_per_minute: int = Field(default=120, ge=0)
    idempotency_lock_ms: int = Field(default=30_000, ge=100)

    # A replacement reference FX table into MAD (the packaged table's JSON format).
    fx_table: str | None = None

    # The access log (`tasdir.access`): one line for every request by default; with N > 1, one
    # line for one successful request in N, while errors (4xx, 5xx) and requests slower than
    # `access_log_slow_seconds` always get theirs.
    access_log_every: int = Field(default=1, ge=1)
    access_log_slow_seconds: float = Field(default=1.0, ge=0)

    # Serve an API's /metrics on this port (an internal one) instead of on the API port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        return (
            init_settings,
            _PerServiceDatabaseUrls(settings_cls),
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _secure_by_default(self) -> Settings:
        if self.jwt_jwks_url is not None and self.jwt_secret is None:
            return self
        if self.jwt_secret is None:
            if self.environment != "development":
                raise SettingsError(
                    "no token verification configured: set TASDIR_JWT_JWKS_URL, or "
                    f"TASDIR_JWT_SECRET (at least {MIN_SECRET_BYTES} bytes); the dev secret is "
                    "used only with TASDIR_ENVIRONMENT=development"
                )
            self.jwt_secret = SecretStr(DEV_JWT_SECRET)
            return self
        secret = self.jwt_secret.get_secret_value()
        if secret == DEV_JWT_SECRET and self.environment != "development":
            raise SettingsError(
                "TASDIR_JWT_SECRET is the committed dev secret: set a secret of your own, or "
                "TASDIR_ENVIRONMENT=development"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"TASDIR_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return self

    @property
    def secret(self) -> str:
        """The shared secret (HS256); empty when only a JWKS URL is configured."""
        return self.jwt_secret.get_secret_value() if self.jwt_secret is not None else ""

    def database_url(self, service: str) -> str:
        explicit = self.database_urls.get(service)
        if explicit:
            return explicit
        return f"{self.postgres_url.rstrip('/')}/{self.database_prefix}{service}"


@cache
def get_settings() -> Settings:
    return Settings()


def describe_error(exc: Exception, prefix: str = ENV_PREFIX) -> str:
    """One line for a configuration that cannot run, naming the variable to set."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        messages = []
        for error in errors():
            location = ".".join(str(part) for part in error.get("loc", ()))
            variable = f"{prefix}{location.upper()}" if location else ""
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            messages.append(f"{variable}: {message}" if variable else message)
        return "; ".join(messages)
    return str(exc)
