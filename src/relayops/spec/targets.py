"""Where the rendered rules go (service.yaml `targets`), and the Kubernetes names they need.

`prometheus` writes plain rule files; `prometheus-operator` one `PrometheusRule` per provider,
for an operator whose `ruleSelector` matches the labels given here; `mimir` one rule namespace
file per provider, for `mimirtool rules load` or the Mimir / Cortex ruler API.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from relayops.spec.base import SpecModel

Target = Literal["prometheus", "prometheus-operator", "mimir"]
TARGETS: tuple[Target, ...] = ("prometheus", "prometheus-operator", "mimir")

# Kubernetes object names: a DNS-1123 label (namespaces, at most 63 characters) or subdomain
# (other objects, at most 253); label keys are an optional DNS subdomain prefix and a name of at
# most 63 characters; values at most 63 characters, possibly empty.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def dns_label_problem(value: str) -> str | None:
    if len(value) > 63 or not DNS_LABEL.fullmatch(value):
        return (
            f"{value!r} is not a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def dns_subdomain_problem(value: str) -> str | None:
    if len(value) > 253 or not DNS_SUBDOMAIN.fullmatch(value):
        return (
            f"{value!r} is not a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' "
            "and '.', each dot-separated part starting and ending with a letter or digit"
        )
    return None


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and dns_subdomain_problem(prefix):
        return f"label key {key!r}: its prefix {prefix!r} is not a DNS-1123 subdomain"
    if len(name) > 63 or not LABEL_NAME.fullmatch(name):
        return (
            f"label key {key!r}: the name after the optional 'prefix/' must be at most 63 "
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    return None


def label_value_problem(key: str, value: str) -> str | None:
    if value and (len(value) > 63 or not LABEL_NAME.fullmatch(value)):
        return (
            f"label {key}: value {value!r} must be empty or at most 63 letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit"
        )
    return None


def kubernetes_name(*parts: str) -> str:
    """Spec names joined into an object name: snake_case becomes kebab-case."""
    return "-".join(parts).replace("_", "-")


class OperatorTarget(SpecModel):
    """Metadata of the `PrometheusRule` objects."""

    namespace: str = Field(default="monitoring", description="Namespace of the objects.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels the operator's ruleSelector matches, e.g. "
        "{release: kube-prometheus-stack}.",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        problem = dns_label_problem(value)
        if problem:
            raise ValueError(f"{problem}; e.g. monitoring")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            problem = label_key_problem(key) or label_value_problem(key, text)
            if problem:
                raise ValueError(problem)
        return value
