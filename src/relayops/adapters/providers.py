"""The providers the send adapters know, by spec name (specs/<name>.yaml).

Adding a provider: its spec, one package beside gmail/ and outlook/ with a class meeting
relayops.adapters.provider.Provider, and a line here (or pass `provider=` to the adapter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from relayops.adapters.gmail.provider import GmailProvider
from relayops.adapters.outlook.provider import OutlookProvider
from relayops.adapters.provider import Provider
from relayops.spec.provider import ProviderSpec

PROVIDERS: Mapping[str, Callable[[ProviderSpec], Provider]] = {
    "gmail": lambda spec: GmailProvider(),
    "outlook": OutlookProvider,
}


def provider_for(spec: ProviderSpec) -> Provider:
    make = PROVIDERS.get(spec.name)
    if make is None:
        raise ValueError(
            f"no send adapter for provider spec {spec.name!r} (known: {', '.join(PROVIDERS)}); "
            "register it in relayops.adapters.providers or pass provider= to the adapter"
        )
    return make(spec)
