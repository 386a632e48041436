"""Runbooks rendered from the specs: one per alert, with an index, and their link checker."""

from relayops.runbooks.links import check_runbook_links
from relayops.runbooks.render import render_runbooks

__all__ = ["check_runbook_links", "render_runbooks"]
