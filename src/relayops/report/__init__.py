"""Reports read from a running Prometheus: the go/no-go observation report."""

from relayops.report.model import Observation, Point
from relayops.report.observation import observe
from relayops.report.render import write_report

__all__ = ["Observation", "Point", "observe", "write_report"]
