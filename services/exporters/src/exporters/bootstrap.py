"""Wires the exporters service: its tables, its unit of work, its handlers and its routes."""

from __future__ import annotations

from pathlib import Path

from tasdir.service import ServiceDefinition

from exporters.adapters import orm
from exporters.config import check_exporters_settings
from exporters.entrypoints.api import router
from exporters.entrypoints.requests import router as requests_router
from exporters.service_layer.handlers import HANDLERS
from exporters.service_layer.uow import ExportersUnitOfWork

definition = ServiceDefinition(
    name="exporters",
    metadata=orm.metadata,
    tables=orm.tables,
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    uow_class=ExportersUnitOfWork,
    handlers=HANDLERS,
    routers=(router, requests_router),
    check_settings=check_exporters_settings,
)
