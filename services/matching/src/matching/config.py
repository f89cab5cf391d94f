"""The matching service's own settings: `TASDIR_MATCHING_*` environment variables.

The score's weights are whole percentage points that sum to 100 (docs/matching.md).
"""

from __future__ import annotations

from functools import cache

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tasdir.reference.geography import blocs, is_bloc
from tasdir.settings import SettingsError, describe_error

from matching.domain.rules import ScoringConfig


class MatchingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASDIR_MATCHING_", extra="ignore")

    weight_cost: int = Field(default=35, ge=0, le=100)
    weight_amount_fit: int = Field(default=15, ge=0, le=100)
    weight_speed: int = Field(default=15, ge=0, le=100)
    weight_cover: int = Field(default=20, ge=0, le=100)
    weight_strategic: int = Field(default=15, ge=0, le=100)
    # A conditional match's score is cut by this percentage.
    conditional_penalty_pct: int = Field(default=20, ge=0, le=100)
    # An all-in cost at or above this (% a year) scores 0 on cost.
    cost_ceiling_pct: float = Field(default=20.0, gt=0, le=1000)
    # A decision in this many days or more scores 0 on speed.
    speed_ceiling_days: int = Field(default=90, ge=1, le=3650)
    # The amount-fit score (0 to 1) of a product with no maximum amount.
    amount_fit_unbounded: float = Field(default=0.5, ge=0, le=1)
    # Blocs whose members make a destination strategic (comma-separated bloc codes).
    priority_blocs: str = "afcfta"
    # How many excluded products a match set keeps, nearest first.
    nearest_misses: int = Field(default=50, ge=0, le=1000)
    # Notifications (docs/notifications.md). A stream sends a heartbeat comment this often and
    # looks at the database for anything it missed at each one.
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # How long a stream ticket may wait for its stream to open (it is used once).
    stream_ticket_ttl_seconds: int = Field(default=60, ge=1, le=3600)
    # How often the dispatcher tells the streams, through Redis, of new notifications.
    dispatch_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # How often the scheduler expires lapsed offers and consents.
    scheduler_interval_seconds: float = Field(default=30.0, gt=0, le=86_400)

    @field_validator("priority_blocs")
    @classmethod
    def _known_blocs(cls, value: str) -> str:
        unknown = [b.strip() for b in value.split(",") if b.strip() and not is_bloc(b.strip())]
        if unknown:
            known = ", ".join(b.code for b in blocs())
            raise ValueError(f"unknown bloc code(s) {', '.join(unknown)}; known: {known}")
        return value

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> MatchingSettings:
        total = sum(self.weights())
        if total != 100:
            raise ValueError(f"the TASDIR_MATCHING_WEIGHT_* sum to {total}, not 100")
        return self

    def weights(self) -> tuple[int, int, int, int, int]:
        return (
            self.weight_cost,
            self.weight_amount_fit,
            self.weight_speed,
            self.weight_cover,
            self.weight_strategic,
        )

    def scoring(self) -> ScoringConfig:
        return ScoringConfig(
            weights=self.weights(),
            conditional_penalty_pct=self.conditional_penalty_pct,
            cost_ceiling_cp=round(self.cost_ceiling_pct * 100),
            speed_ceiling_days=self.speed_ceiling_days,
            amount_fit_unbounded=round(self.amount_fit_unbounded * 10_000),
            priority_blocs=tuple(b.strip() for b in self.priority_blocs.split(",") if b.strip()),
        )


@cache
def get_matching_settings() -> MatchingSettings:
    return MatchingSettings()


def check_matching_settings() -> MatchingSettings:
    """The settings, or a `SettingsError` naming the variable to fix (checked at start)."""
    try:
        return get_matching_settings()
    except ValidationError as exc:
        raise SettingsError(describe_error(exc, prefix="TASDIR_MATCHING_")) from None
