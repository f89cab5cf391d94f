"""Wires the matching service: its projections, its unit of work, its handlers, its routes."""

from __future__ import annotations

from pathlib import Path

from tasdir.service import ServiceDefinition

from matching.adapters import orm
from matching.config import check_matching_settings
from matching.entrypoints.match_sets import router as match_sets_router
from matching.entrypoints.notifications import router as notifications_router
from matching.entrypoints.referrals import router as referrals_router
from matching.service_layer.dispatch import dispatcher
from matching.service_layer.handlers import HANDLERS
from matching.service_layer.scheduler import scheduler
from matching.service_layer.uow import MatchingUnitOfWork

definition = ServiceDefinition(
    name="matching",
    metadata=orm.metadata,
    tables=orm.tables,
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    uow_class=MatchingUnitOfWork,
    handlers=HANDLERS,
    routers=(match_sets_router, referrals_router, notifications_router),
    check_settings=check_matching_settings,
    # The notification dispatcher and the deal scheduler run beside the consumer.
    background=(dispatcher, scheduler),
)
