"""The spec model: the single source of truth for every metric, series, SLO and alert."""

from relayops.spec.errors import SpecError, SpecIssue
from relayops.spec.specset import SpecSet, load_specs

__all__ = ["SpecError", "SpecIssue", "SpecSet", "load_specs"]
