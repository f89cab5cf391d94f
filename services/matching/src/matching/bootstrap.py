"""Wires the matching service: its projections, its unit of work, its handlers, its routes."""

from __future__ import annotations

from pathlib import Path

from tasdir.service import ServiceDefinition

from matching.adapters import orm
from matching.config import check_matching_settings
from matching.entrypoints.match_sets import router as match_sets_router
from matching.service_layer.handlers import HANDLERS
from matching.service_layer.uow import MatchingUnitOfWork

definition = ServiceDefinition(
    name="matching",
    metadata=orm.metadata,
    tables=orm.tables,
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    uow_class=MatchingUnitOfWork,
    handlers=HANDLERS,
    routers=(match_sets_router,),
    check_settings=check_matching_settings,
)
