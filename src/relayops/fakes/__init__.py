"""Fake Gmail and Microsoft Graph servers on loopback, with shared fault injection, for tests."""

from relayops.fakes.faults import Fault, FaultKind, FaultPlan, retry_after_date
from relayops.fakes.gmail import FakeGmail, GmailMessage, gmail_error
from relayops.fakes.graph import FakeGraph, GraphMessage, graph_error
from relayops.fakes.server import FakeServer, RecordedRequest

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
