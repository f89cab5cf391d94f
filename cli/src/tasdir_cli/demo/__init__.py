"""The demo: a deterministic data set, loaded through the public APIs, and a guided walkthrough.

- `generator`: the data set of a seed, as plain data (`generate(seed)`);
- `catalogue`: its fixed providers and products;
- `seeder`: applies a data set to a running system through its HTTP APIs, idempotently;
- `walkthrough`: the scripted deal of `make demo`;
- `views`: the tables the `tasdir` commands print.

docs/demo.md describes the data set, the walkthrough and the commands.
"""

from tasdir_cli.demo.generator import DEFAULT_SEED, DemoData, generate

__all__ = ["DEFAULT_SEED", "DemoData", "generate"]
