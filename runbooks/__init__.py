"""Runbooks rendered from the specs: one per alert, with an index, and their link checker."""

from runbooks.links import check_runbook_links
from runbooks.render import render_runbooks

__all__ = ["check_runbook_links", "render_runbooks"]
