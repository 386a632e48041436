"""The label names relayops gives meaning to, spelled once. Metric names live in the spec's
catalog (relayops.spec.metrics) and series names in relayops.spec.series; these are the labels
rules aggregate by, alerts carry and Alertmanager routes and inhibits on."""

from __future__ import annotations

PROVIDER = "provider"  # the provider spec's `provider` value: google, microsoft
ACTION = "action"  # the send action: gmail.send, outlook.send
SEND_KEYS = (PROVIDER, ACTION)  # every send-path series carries both; rules keep both
SLO_LABEL = "slo"  # the SLO's name on SLO series and burn alerts
SEVERITY = "severity"  # warning or critical: where an alert is routed
PAGING_SEVERITY = "critical"  # the severity value that pages the on-call
BURN_TIER = "burn_tier"  # page_fast, page_slow, ticket_fast, ticket_slow
COMPONENT = "component"
SERVICE = "service"
TEAM = "team"
ALERTNAME = "alertname"  # set by Prometheus on every alert
STATUS = "status"
