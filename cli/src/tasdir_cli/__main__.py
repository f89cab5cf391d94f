"""`python -m tasdir_cli …`, the same as `tasdir …`."""

from tasdir_cli.main import app

app(prog_name="tasdir")
