"""The exporters service's own settings: `TASDIR_EXPORTERS_*` environment variables."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from tasdir.settings import SettingsError, describe_error

from exporters.domain.exporter import DerivationRules


class ExportersSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASDIR_EXPORTERS_", extra="ignore")

    # One destination (one HS heading) with at least this share of the declared exports makes
    # the exporter mono-market (mono-product).
    mono_market_threshold_pct: Decimal = Field(default=Decimal(80), gt=0, le=100)
    mono_product_threshold_pct: Decimal = Field(default=Decimal(80), gt=0, le=100)

    def derivation_rules(self) -> DerivationRules:
        return DerivationRules(
            mono_market_threshold_pct=self.mono_market_threshold_pct,
            mono_product_threshold_pct=self.mono_product_threshold_pct,
        )


@cache
def get_exporters_settings() -> ExportersSettings:
    return ExportersSettings()


def check_exporters_settings() -> ExportersSettings:
    """The settings, or a `SettingsError` naming the variable to fix (checked at start)."""
    try:
        return get_exporters_settings()
    except ValidationError as exc:
        raise SettingsError(describe_error(exc, prefix="TASDIR_EXPORTERS_")) from None
