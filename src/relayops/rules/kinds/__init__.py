"""The alert kinds relayops renders, one module each, in the order a provider's alerts are
rendered. Adding a kind: a module here whose `KIND` subclasses `relayops.rules.kind.Kind`, its
line below, and its runbook template `runbooks/templates/kind_<name>.md.j2`."""

from __future__ import annotations

from relayops.rules.kind import Kind
from relayops.rules.kinds import (
    burn,
    cardinality,
    controller_failing,
    error_ratio,
    latency,
    missing,
    signal_per_request_above,
    signal_quantile_above,
    signal_ratio_above,
    stalled,
    validation,
)

CATALOGUE: tuple[Kind, ...] = (
    burn.KIND,
    error_ratio.KIND,
    latency.KIND,
    validation.KIND,
    missing.KIND,
    stalled.KIND,
    controller_failing.KIND,
    cardinality.KIND,
    signal_quantile_above.KIND,
    signal_per_request_above.KIND,
    signal_ratio_above.KIND,
)
