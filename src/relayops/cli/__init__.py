"""The `relayops` command line, on top of every other package: one module per command group,
sharing exit codes and error handling (common.py)."""

from relayops.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
