"""The `tasdir` command-line tool: the composition root that puts the services together (the
embedded mode, the process stack) and the operators' commands (dev tokens, dead letters, the
outbox and the inbox). The library `tasdir` knows no service; this package does."""
