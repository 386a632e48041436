"""The error taxonomy matches the metric catalog; structured errors have one JSON shape."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import get_args

import pytest

from relayops.adapters.errors import (
    TAXONOMY,
    ErrorCode,
    Reason,
    SendError,
    Source,
    StructuredError,
    error,
)
from relayops.spec.metrics import Role

FIELDS = {
    "error_code",
    "message",
    "field",
    "details",
    "remediation",
    "retriable",
    "correlation_id",
    "source",
}


def test_taxonomy_covers_exactly_the_catalog_codes(specs):
    codes = specs.metric(Role.STRUCTURED_ERRORS).values["code"]
    assert {c.value for c in ErrorCode} == set(codes)
    assert set(TAXONOMY) == set(ErrorCode)


def test_sources_and_reasons_are_catalog_label_values(specs):
    sources = set(specs.metric(Role.STRUCTURED_ERRORS).values["source"])
    reasons = set(specs.metric(Role.ERRORS).values["reason"])
    assert set(get_args(Source)) == sources
    assert set(get_args(Reason)) == reasons
    assert {k.source for k in TAXONOMY.values()} <= sources
    assert {k.reason for k in TAXONOMY.values()} <= reasons


@pytest.mark.parametrize(
    ("code", "source", "reason", "retriable"),
    [
        (ErrorCode.VALIDATION_FAILED, "validation", "validation", False),
        (ErrorCode.TOO_LARGE, "validation", "validation", False),
        (ErrorCode.INTERNAL_ONLY_BLOCKED, "policy", "policy", False),
        (ErrorCode.ROLLOUT_GATE_CLOSED, "policy", "policy", False),
        (ErrorCode.THROTTLED, "provider", "throttled", True),
        (ErrorCode.QUOTA_EXCEEDED, "provider", "throttled", False),
        (ErrorCode.PROVIDER_UNAVAILABLE, "provider", "provider", True),
        (ErrorCode.AUTH_RECONNECT_REQUIRED, "provider", "auth", False),
        (ErrorCode.PERMISSION_DENIED, "provider", "auth", False),
        (ErrorCode.INVALID_RECIPIENT, "provider", "provider", False),
        (ErrorCode.AMBIGUOUS_MAY_HAVE_SENT, "provider", "provider", False),
    ],
)
def test_each_code_has_its_source_reason_and_retry_rule(code, source, reason, retriable):
    kind = code.kind
    assert (kind.source, kind.reason, kind.retriable) == (source, reason, retriable)
    assert kind.remediation.endswith(".") and len(kind.remediation) > 20


def test_error_fills_in_the_taxonomy_and_a_correlation_id():
    made = error(ErrorCode.THROTTLED, "Gmail is rate limiting.", details=[{"retry_after": 30}])
    assert made.error_code is ErrorCode.THROTTLED
    assert (made.source, made.retriable, made.reason) == ("provider", True, "throttled")
    assert made.remediation == TAXONOMY[ErrorCode.THROTTLED].remediation
    assert made.field is None
    assert uuid.UUID(hex=made.correlation_id).version == 4
    assert len(made.correlation_id) == 32
    assert error("throttled", "again").correlation_id != made.correlation_id


def test_error_keeps_a_given_correlation_id_and_accepts_code_strings():
    made = error("too_large", "too big", field="attachments[0].data", correlation_id="req-42")
    assert made.error_code is ErrorCode.TOO_LARGE
    assert (made.correlation_id, made.field) == ("req-42", "attachments[0].data")


def test_unknown_codes_are_refused():
    with pytest.raises(ValueError, match="not_a_code"):
        error("not_a_code", "nope")


def test_to_dict_is_the_json_shape():
    made = error(
        ErrorCode.VALIDATION_FAILED,
        "subject: must be one line",
        field="subject",
        details=[{"field": "subject", "error_code": "validation_failed", "message": "one line"}],
        correlation_id="abc",
    )
    shape = made.to_dict()
    assert set(shape) == FIELDS
    assert shape == json.loads(json.dumps(shape))
    assert shape["error_code"] == "validation_failed"
    assert shape["details"] == [
        {"field": "subject", "error_code": "validation_failed", "message": "one line"}
    ]
    assert {f.name for f in dataclasses.fields(StructuredError)} == FIELDS


def test_structured_errors_are_immutable():
    made = error(ErrorCode.PROVIDER_UNAVAILABLE, "503 from Graph")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.retriable = False  # type: ignore[misc]


def test_send_error_carries_the_structured_error():
    made = error(ErrorCode.AMBIGUOUS_MAY_HAVE_SENT, "timed out after the request was sent")
    with pytest.raises(SendError) as caught:
        raise SendError(made)
    assert caught.value.error is made
    assert str(caught.value) == "ambiguous_may_have_sent: timed out after the request was sent"
    assert not caught.value.error.retriable
