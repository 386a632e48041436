"""Fake Gmail and Microsoft Graph servers on loopback, with shared fault injection, for tests."""

from adapters.fakes.faults import Fault, FaultKind, FaultPlan, retry_after_date
from adapters.fakes.gmail import FakeGmail, GmailMessage, gmail_error
from adapters.fakes.graph import FakeGraph, GraphMessage, graph_error
from adapters.fakes.server import FakeServer, RecordedRequest

__all__ = [
    "FakeGmail",
    "FakeGraph",
    "FakeServer",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "GmailMessage",
    "GraphMessage",
    "RecordedRequest",
    "gmail_error",
    "graph_error",
    "retry_after_date",
]
