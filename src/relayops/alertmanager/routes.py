"""The routing tree: one child route per severity, with that receiver's grouping and timing.

The root receiver is the warning receiver, so an alert without a known severity still reaches
people instead of being dropped.
"""

from __future__ import annotations

from relayops.alertmanager.matchers import equals
from relayops.alertmanager.receivers import receiver_name
from relayops.spec.durations import format_duration
from relayops.spec.service import SEVERITIES, Receiver, ServiceSpec

FALLBACK = "warning"


def _timing(receiver: Receiver) -> dict:
    return {
        "group_by": list(receiver.group_by),
        "group_wait": format_duration(receiver.group_wait),
        "group_interval": format_duration(receiver.group_interval),
        "repeat_interval": format_duration(receiver.repeat_interval),
    }


def severity_matchers(service: ServiceSpec, severity: str) -> list[str]:
    return [equals("service", service.service).render(), equals("severity", severity).render()]


def route_tree(service: ServiceSpec) -> dict:
    return {
        "receiver": receiver_name(service, FALLBACK),
        **_timing(service.receivers[FALLBACK]),
        "routes": [
            {
                "receiver": receiver_name(service, severity),
                "matchers": severity_matchers(service, severity),
                **_timing(service.receivers[severity]),
            }
            for severity in SEVERITIES
        ],
    }
