"""Internal-only mode: bare addresses in allowed domains or on the test list pass, tricks do not."""

from __future__ import annotations

import pytest

from relayops.adapters.internal_only import blocked_recipients, normal_address, normal_domain

TEST_RECIPIENT = "Tester.One@Gmail.com"


def blocked(*addresses: str, subdomains: bool = False, domains=("corp.example",)) -> list[str]:
    return blocked_recipients(
        addresses,
        allowed_domains=domains,
        include_subdomains=subdomains,
        test_recipients=[TEST_RECIPIENT],
    )


@pytest.mark.parametrize(
    "address",
    [
        "alice@corp.example",
        "Alice.Smith@corp.example",
        "alice+newsletter@corp.example",
        "o'brien@corp.example",
        "ALICE@CORP.EXAMPLE",  # uppercase domains normalise to the allowed one
        "alice@Corp.Example",
        "alice@ｃｏｒｐ.example",  # noqa: RUF001 - fullwidth letters map to ASCII under UTS 46
        "alice@corp\u3002example",  # an ideographic full stop is a label separator in IDNA
        "Tester.One@gmail.com",
        "Tester.One@GMAIL.COM",
        # Gmail and Exchange deliver local parts case-insensitively: so does the list
        "tester.one@gmail.com",
        "TESTER.ONE@gmail.com",
    ],
)
def test_allowed(address: str) -> None:
    assert blocked(address) == []
    assert blocked(address, subdomains=True) == []


@pytest.mark.parametrize(
    "address",
    [
        # display names, angle brackets, groups and lists: only bare addresses are considered
        '"ceo@corp.example" <evil@evil.example>',
        "CEO <ceo@corp.example>",
        "<ceo@corp.example>",
        "ceo@corp.example <evil@evil.example>",
        "a@corp.example, b@evil.example",
        "a@corp.example;b@evil.example",
        "team: a@corp.example;",
        # look-alike domains
        "ceo@corp.example.evil.example",
        "ceo@evilcorp.example",
        "ceo@corp-example.com",
        "ceo@corp.example.com",
        "ceo@corpexample",
        "ceo@c\u043erp.example",  # Cyrillic o (U+043E)
        "ceo@xn--crp-sed.example",  # the same, as an A-label
        "ceo@corp.exampIe",  # capital I for l
        # trailing dots and empty labels
        "ceo@corp.example.",
        "ceo@corp.example\u3002",
        "ceo@corp..example",
        "ceo@.corp.example",
        # percent-hack and bang-path routing
        "user%corp.example@evil.example",
        "user%evil.example@corp.example",
        "evil.example!user@corp.example",
        "corp.example!user@evil.example",
        # quoted local parts, source routes, comments, literals
        '"user@corp.example"@evil.example',
        '"evil@evil.example"@corp.example',
        '"user"@corp.example',
        "@corp.example:user@evil.example",
        "user@evil.example(corp.example)",
        "user(x)@corp.example",
        "user@[10.0.0.1]",
        "user@corp.example@evil.example",
        "user\\@corp.example@evil.example",
        "user@corp.example\uff20evil.example",  # fullwidth @
        "user\uff20evil.example@corp.example",
        # header injection and whitespace
        "a@corp.example\r\nBcc: x@evil.example",
        " a@corp.example",
        "a@corp.example ",
        "a @corp.example",
        # malformed
        "",
        "@corp.example",
        "a@",
        "a",
        "a..b@corp.example",
        ".a@corp.example",
        "a.@corp.example",
        "a" * 65 + "@corp.example",
        # a test recipient's local part is exact but for case: no sub-addresses
        "Tester.One+x@gmail.com",
        "other@gmail.com",
    ],
)
def test_blocked(address: str) -> None:
    assert blocked(address) == [address]
    assert blocked(address, subdomains=True) == [address]


def test_subdomains_only_when_asked() -> None:
    assert blocked("bob@eu.corp.example") == ["bob@eu.corp.example"]
    assert blocked("bob@eu.corp.example", subdomains=True) == []
    assert blocked("bob@A.B.CORP.example", subdomains=True) == []
    assert blocked("bob@eu.gmail.com", subdomains=True) == ["bob@eu.gmail.com"]


def test_international_allowed_domain_matches_both_forms() -> None:
    for domains in (["bücher.example"], ["xn--bcher-kva.example"], ["BÜCHER.example"]):
        assert blocked("a@bücher.example", "a@BÜCHER.EXAMPLE", domains=domains) == []
        assert blocked("a@xn--bcher-kva.example", domains=domains) == []
        assert blocked("a@bucher.example", domains=domains) == ["a@bucher.example"]


def test_sharp_s_is_not_folded_to_ss() -> None:
    """IDNA 2003 (the stdlib codec) maps ß to ss; IDNA 2008 keeps them different domains."""
    assert blocked("a@straße.example", domains=["strasse.example"]) == ["a@straße.example"]
    assert blocked("a@strasse.example", domains=["straße.example"]) == ["a@strasse.example"]


def test_result_keeps_order_and_lists_each_once() -> None:
    addresses = ["x@evil.example", "a@corp.example", "y@evil.example", "x@evil.example"]
    assert blocked(*addresses) == ["x@evil.example", "y@evil.example"]


def test_non_string_is_blocked() -> None:
    assert blocked_recipients(
        [None], allowed_domains=["corp.example"], include_subdomains=False, test_recipients=[]
    ) == [None]


@pytest.mark.parametrize(
    ("domains", "recipients"),
    [(["corp.example."], []), (["*.corp.example"], []), ([], ["Name <t@gmail.com>"])],
)
def test_invalid_configuration_is_an_error(domains: list[str], recipients: list[str]) -> None:
    with pytest.raises(ValueError, match="internal-only mode"):
        blocked_recipients(
            ["a@corp.example"],
            allowed_domains=domains,
            include_subdomains=False,
            test_recipients=recipients,
        )


def test_normalisation_helpers() -> None:
    assert normal_domain("CORP.Example") == "corp.example"
    assert normal_domain("c\u043erp.example") == "xn--crp-sed.example"
    assert normal_domain("corp.example.") is None
    assert normal_address("Tester.One@GMAIL.com") == "Tester.One@gmail.com"
    assert normal_address('"a"@corp.example') is None
