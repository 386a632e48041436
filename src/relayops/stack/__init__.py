"""The local drill stack: Prometheus, Alertmanager, Pushgateway, Redis and a webhook sink."""

from relayops.stack.sink import read_notifications
from relayops.stack.stack import (
    DEFAULT_STATE,
    StackError,
    StackRunning,
    kill_every_stack,
    recorded_stack,
    running_stack,
    stack_down,
    stack_status,
    stack_up,
)
from relayops.stack.state import Component, Stack

__all__ = [
    "DEFAULT_STATE",
    "Component",
    "Stack",
    "StackError",
    "StackRunning",
    "kill_every_stack",
    "read_notifications",
    "recorded_stack",
    "running_stack",
    "stack_down",
    "stack_status",
    "stack_up",
]
