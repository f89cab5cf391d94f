"""Tasdir's web console: the advisors' review desk, over the public APIs."""
