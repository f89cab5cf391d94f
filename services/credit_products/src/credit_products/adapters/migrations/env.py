"""Alembic environment of the credit_products database."""

from credit_products.adapters.orm import metadata
from tasdir.db.migrations import run_env

run_env(metadata)
