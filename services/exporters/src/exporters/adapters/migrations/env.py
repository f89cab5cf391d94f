"""Alembic environment of the exporters database."""

from exporters.adapters.orm import metadata
from tasdir.db.migrations import run_env

run_env(metadata)
