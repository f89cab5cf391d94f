"""Alembic environment of the matching database."""

from matching.adapters.orm import metadata
from tasdir.db.migrations import run_env

run_env(metadata)
