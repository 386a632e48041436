"""Internal-only mode: which recipients may not receive mail while sending is restricted.

Only bare addresses (local@domain) are considered; anything else is blocked rather than parsed,
so display names, comments, quoted local parts and source routes cannot smuggle a recipient past
the check. Domains are compared after IDNA 2008 / UTS 46 normalisation (the `idna` package,
non-transitional): the stdlib `idna` codec implements IDNA 2003, which maps ß to ss and would
let straße.example pass as strasse.example.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import idna

from relayops.spec.send import InternalOnly

# RFC 5322 dot-atom, without % and ! (percent-hack and bang-path routing through a relay).
_LOCAL_PART = re.compile(r"[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*")
_ASCII_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_MAX_LOCAL, _MAX_ADDRESS = 64, 254


def normal_domain(domain: str) -> str | None:
    """The lowercase ASCII (A-label) form of `domain`, or None when it is not a valid host name."""
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    return ascii_domain if _ASCII_DOMAIN.fullmatch(ascii_domain) else None


def normal_address(address: str) -> str | None:
    """`address` with its domain normalised and its local part kept as is, or None when it is
    not a bare address this mode accepts."""
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(local) > _MAX_LOCAL:
        return None
    ascii_domain = normal_domain(domain)
    if ascii_domain is None or len(local) + 1 + len(ascii_domain) > _MAX_ADDRESS:
        return None
    return f"{local}@{ascii_domain}"


def _config(
    values: Iterable[str], normalise: Callable[[str], str | None], what: str
) -> frozenset[str]:
    """Normalised configuration values; an invalid one is a configuration error, not a skip."""
    normalised = set()
    for value in values:
        result = normalise(value)
        if result is None:
            raise ValueError(f"internal-only mode: {what} {value!r} is not valid")
        normalised.add(result)
    return frozenset(normalised)


def _domain_allowed(domain: str, allowed: frozenset[str], include_subdomains: bool) -> bool:
    if domain in allowed:
        return True
    return include_subdomains and any(domain.endswith("." + parent) for parent in allowed)


def blocked_recipients(
    addresses: Iterable[str],
    *,
    allowed_domains: Iterable[str],
    include_subdomains: bool,
    test_recipients: Iterable[str],
) -> list[str]:
    """The addresses internal-only mode blocks, as given, in order, each once."""
    domains = _config(allowed_domains, normal_domain, "allowed domain")
    # Local parts compare case-insensitively, as every mail system in practice delivers them
    exact = {a.lower() for a in _config(test_recipients, normal_address, "test recipient")}
    blocked: list[str] = []
    for address in addresses:
        normal = normal_address(address) if isinstance(address, str) else None
        allowed = normal is not None and (
            normal.lower() in exact
            or _domain_allowed(normal.rpartition("@")[2], domains, include_subdomains)
        )
        if not allowed and address not in blocked:
            blocked.append(address)
    return blocked


def blocked_by(mode: InternalOnly, addresses: Iterable[str]) -> list[str]:
    """The addresses a provider's internal-only setting blocks (none while it is off)."""
    if not mode.enabled:
        return []
    return blocked_recipients(
        addresses,
        allowed_domains=mode.allowed_domains,
        include_subdomains=mode.include_subdomains,
        test_recipients=mode.test_recipients,
    )
