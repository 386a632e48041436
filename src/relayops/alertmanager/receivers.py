"""Receivers: one per severity, or in drill mode the same names all posting to one webhook.

Secrets never enter the config: PagerDuty reads its routing key from `routing_key_file` and
Slack its webhook URL from `api_url_file` (both supported by Alertmanager 0.25; it does not
expand environment variables in its config).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from relayops.spec.service import SEVERITIES, Receiver, ServiceSpec


def receiver_name(service: ServiceSpec, severity: str) -> str:
    return f"{service.service}-{severity}-{service.receivers[severity].type}"


def _pagerduty(receiver: Receiver, severity: str) -> dict:
    return {
        "pagerduty_configs": [
            {
                "routing_key_file": receiver.secret_file,
                "send_resolved": receiver.send_resolved,
                "severity": severity,
                "description": '{{ template "relay.title" . }}',
                "class": "{{ .CommonLabels.alertname }}",
                "component": "{{ .CommonLabels.component }}",
                "group": "{{ .CommonLabels.provider }}",
                "details": {"alerts": '{{ template "relay.text" . }}'},
            }
        ]
    }


def _slack(receiver: Receiver) -> dict:
    return {
        "slack_configs": [
            {
                "api_url_file": receiver.secret_file,
                "channel": receiver.channel,
                "send_resolved": receiver.send_resolved,
                "title": '{{ template "relay.title" . }}',
                "text": '{{ template "relay.text" . }}',
            }
        ]
    }


def check_drill_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"drill webhook URL must be an http(s) URL with a host, got {url!r}")
    return url


def receivers(service: ServiceSpec, drill_webhook_url: str | None = None) -> list[dict]:
    """The receivers in severity order; in drill mode each is a webhook to the drill URL."""
    out = []
    for severity in SEVERITIES:
        receiver = service.receivers[severity]
        if drill_webhook_url is not None:
            body = {
                "webhook_configs": [
                    {
                        "url": check_drill_url(drill_webhook_url),
                        "send_resolved": receiver.send_resolved,
                    }
                ]
            }
        elif receiver.type == "pagerduty":
            body = _pagerduty(receiver, severity)
        else:
            body = _slack(receiver)
        out.append({"name": receiver_name(service, severity), **body})
    return out
