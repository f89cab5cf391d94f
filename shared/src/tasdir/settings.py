"""The one settings object of Tasdir, read from `TASDIR_*` environment variables."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "tasdir-dev-secret-change-me-0123456789"
SERVICES = ("exporters", "credit_products", "matching")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASDIR_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "tasdir:"
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432"
    database_prefix: str = "tasdir_"
    # Per-service overrides; by default each service gets `<postgres_url>/<prefix><service>`.
    exporters_database_url: str | None = None
    credit_products_database_url: str | None = None
    matching_database_url: str | None = None

    jwt_secret: str = DEV_JWT_SECRET
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    consumer_prefetch: int = 10
    relay_batch_size: int = 100
    relay_max_attempts: int = 5

    # Limits (DESIGN.md, "Security"). A limit of 0 turns the rate limiter off.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    rate_limit_per_minute: int = Field(default=120, ge=0)
    idempotency_lock_ms: int = Field(default=30_000, ge=100)

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Settings:
        if (
            self.environment == "production"
            and self.jwt_jwks_url is None
            and self.jwt_secret == DEV_JWT_SECRET
        ):
            raise ValueError("set TASDIR_JWT_SECRET or TASDIR_JWT_JWKS_URL in production")
        return self

    def database_url(self, service: str) -> str:
        if service not in SERVICES:
            raise KeyError(service)
        explicit: str | None = getattr(self, f"{service}_database_url")
        if explicit:
            return explicit
        return f"{self.postgres_url.rstrip('/')}/{self.database_prefix}{service}"


@cache
def get_settings() -> Settings:
    return Settings()
