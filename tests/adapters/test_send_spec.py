"""The `send:` section of a provider spec: defaults, validation and the policy's helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relayops.adapters.internal_only import blocked_by
from relayops.spec import SpecError, load_specs
from relayops.spec.send import MIB, InternalOnly, SendPolicy, normalize_address
from tests.specs_util import SPECS, copy_specs, edit_yaml


def issues_of(folder: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_specs(folder)
    return [str(issue) for issue in caught.value.issues]


def edit_send(folder: Path, provider: str, **changes: object) -> None:
    edit_yaml(folder / f"{provider}.yaml", lambda d: d.setdefault("send", {}).update(changes))


def test_shipped_specs_set_the_provider_limits():
    specs = load_specs(SPECS)
    gmail, outlook = specs.provider("gmail").send, specs.provider("outlook").send
    assert (gmail.max_recipients, gmail.max_attachment_bytes, gmail.max_total_bytes) == (
        100,
        25 * MIB,
        25 * MIB,
    )
    assert (outlook.max_recipients, outlook.max_attachment_bytes, outlook.max_total_bytes) == (
        150,
        150 * MIB,
        150 * MIB,
    )
    for policy in (gmail, outlook):
        assert policy.max_subject_chars == 998
        assert policy.save_to_sent_items is True
        assert policy.sender is None
        assert policy.internal_only.enabled is False
        assert ".exe" in policy.blocked_extensions
        assert policy.inline_content_types == ("image/png", "image/jpeg", "image/gif", "image/webp")


def test_send_section_may_be_omitted(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "outlook.yaml", lambda d: d.pop("send"))
    assert load_specs(folder).provider("outlook").send == SendPolicy()


def test_sizes_take_units_and_sender_is_normalised(tmp_path):
    folder = copy_specs(tmp_path)
    edit_send(
        folder,
        "gmail",
        max_attachment_bytes="10MB",
        max_total_bytes="3 MiB",
        sender="Relay@Bücher.Example",
    )
    [issue] = issues_of(folder)
    assert re.search(r"gmail\.yaml:\d+: send\.max_total_bytes: ", issue)
    assert "smaller than max_attachment_bytes" in issue and "raise it" in issue
    edit_send(folder, "gmail", max_total_bytes="40MB")
    send = load_specs(folder).provider("gmail").send
    assert (send.max_attachment_bytes, send.max_total_bytes) == (10_000_000, 40_000_000)
    assert send.sender == "Relay@xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"max_recipients": 0}, "send.max_recipients", "greater than or equal to 1"),
        ({"max_subject_chars": 999}, "send.max_subject_chars", "less than or equal to 998"),
        ({"max_attachment_bytes": "lots"}, "send.max_attachment_bytes", "'lots'"),
        ({"sender": "Relay <relay@example.com>"}, "send.sender", "bare address"),
        (
            {"allowed_content_types": ["application/pdf", "pdf"]},
            "send.allowed_content_types[1]",
            "media type",
        ),
        ({"allowed_content_types": []}, "send.allowed_content_types", "at least 1"),
        (
            {"inline_content_types": ["image/png", "application/pdf"]},
            "send.inline_content_types[1]",
            "image types",
        ),
        ({"blocked_extensions": [".exe", "bat"]}, "send.blocked_extensions[1]", "with its dot"),
        ({"blocked_extensions": [".exe", ".EXE"]}, "send.blocked_extensions", "more than once"),
        ({"save_to_sent_item": False}, "send.save_to_sent_item", "unknown key"),
        (
            {"internal_only": {"allowed_domains": ["example.com", "not a domain"]}},
            "send.internal_only.allowed_domains[1]",
            "not a valid domain name",
        ),
        (
            {"internal_only": {"allowed_domains": ["example.com", "EXAMPLE.com"]}},
            "send.internal_only.allowed_domains",
            "more than once",
        ),
        (
            {"internal_only": {"test_recipients": ["qa"]}},
            "send.internal_only.test_recipients[0]",
            "bare address",
        ),
        ({"internal_only": {"enabled": True}}, "send.internal_only", "allows no one"),
    ],
)
def test_bad_send_settings_name_the_field(tmp_path, changes, path, words):
    folder = copy_specs(tmp_path)
    edit_send(folder, "outlook", **changes)
    [issue] = issues_of(folder)
    assert re.search(rf"outlook\.yaml:\d+: {re.escape(path)}: ", issue), issue
    assert words in issue


def test_a_per_file_limit_above_the_default_total_needs_a_total(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "outlook.yaml", lambda d: d["send"].pop("max_total_bytes"))
    [issue] = issues_of(folder)
    assert re.search(r"outlook\.yaml:\d+: send\.max_total_bytes: ", issue)
    assert "25.0MiB" in issue and "150.0MiB" in issue


def test_internal_only_domains_are_normalised_to_idna():
    mode = InternalOnly(enabled=True, allowed_domains=("Bücher.Example",))
    assert mode.allowed_domains == ("xn--bcher-kva.example",)
    assert blocked_by(mode, ["anna@BÜCHER.example", "anna@xn--bcher-kva.example"]) == []


def test_internal_only_allows_domains_subdomains_and_test_recipients():
    assert blocked_by(InternalOnly(), ["anyone@elsewhere.example"]) == []
    mode = InternalOnly(
        enabled=True,
        allowed_domains=("example.com",),
        test_recipients=("QA.Inbox@partner.example",),
    )
    addresses = [
        "ops@Example.COM",
        "ops@eu.example.com",
        "ops@badexample.com",
        "QA.Inbox@partner.example",
        "qa.inbox@partner.example",  # local parts match but for case, as mailboxes deliver
        "other@partner.example",
        "not an address",
    ]
    assert blocked_by(mode, addresses) == [
        "ops@eu.example.com",
        "ops@badexample.com",
        "other@partner.example",
        "not an address",
    ]
    wider = mode.model_copy(update={"include_subdomains": True})
    assert blocked_by(wider, ["ops@eu.example.com", "ops@badexample.com"]) == ["ops@badexample.com"]


def test_content_type_patterns_match_exactly_or_by_family():
    policy = SendPolicy(allowed_content_types=("application/pdf", "image/*"))
    assert policy.allows_content_type("application/pdf")
    assert policy.allows_content_type("image/bmp")
    assert not policy.allows_content_type("application/zip")
    assert SendPolicy().allows_content_type("application/zip")
    assert not SendPolicy().allows_content_type("image/svg+xml")


@pytest.mark.parametrize(
    ("filename", "blocked"),
    [
        ("setup.exe", ".exe"),
        ("SETUP.EXE", ".exe"),
        ("invoice.pdf.exe", ".exe"),
        ("invoice.pdf.Exe. . ", ".exe"),
        ("script.PS1", ".ps1"),
        ("invoice.pdf", None),
        ("exe", None),
        ("archive.exe.zip", None),
    ],
)
def test_blocked_extension_is_the_last_one_case_insensitive(filename, blocked):
    assert SendPolicy().blocked_extension(filename) == blocked


def test_normalize_address_keeps_the_local_part_and_idna_encodes_the_domain():
    assert normalize_address("José@Bücher.Example") == "José@xn--bcher-kva.example"
    with pytest.raises(ValueError, match="bare address"):
        normalize_address("José <jose@example.com>")


@pytest.mark.parametrize(
    ("setting", "every", "hosts"),
    [
        ("allow", True, frozenset()),
        ("block", False, frozenset()),
        ({"allow_hosts": ["CDN.Relay.example"]}, False, frozenset({"cdn.relay.example"})),
    ],
)
def test_remote_images_setting(tmp_path, setting, every, hosts):
    folder = copy_specs(tmp_path)
    edit_send(folder, "gmail", remote_images=setting)
    policy = load_specs(folder).provider("gmail").send
    assert (policy.allows_every_remote_image, policy.remote_image_hosts) == (every, hosts)


def test_remote_images_default_is_allow():
    assert SendPolicy().remote_images == "allow"


@pytest.mark.parametrize("setting", ["sometimes", {"allow_hosts": []}, {"hosts": ["a.example"]}])
def test_a_bad_remote_images_setting_names_the_field(tmp_path, setting):
    folder = copy_specs(tmp_path)
    edit_send(folder, "gmail", remote_images=setting)
    issues = issues_of(folder)
    assert any("send.remote_images" in issue for issue in issues), issues
