"""A stored credential as an adapter's token source, configured from the environment.

The refresh lock lives in Redis (REDIS_URL), so every process sending for a mailbox shares it;
keys, store and client credentials come from the variables relayops.oauth.keys,
relayops.oauth.open_store and relayops.oauth.providers read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from relayops.oauth.open_store import open_store
from relayops.oauth.providers import ConfigError, TokenEndpoint, client_credentials, provider_config
from relayops.oauth.refresh import CredentialTokens, RefreshResult, TokenManager
from relayops.spec import env as env_names

REDIS_ENV = env_names.REDIS_URL


def stored_tokens(
    credential_id: str,
    provider: str,
    env: Mapping[str, str],
    *,
    store_path: Path | None = None,
    token_url: str | None = None,
    tenant: str = "common",
    on_refresh: Callable[[RefreshResult], None] | None = None,
) -> CredentialTokens:
    """Tokens of the stored credential `credential_id`, which must belong to `provider`
    ("google" or "microsoft"). Raises ConfigError (and the key and store errors) with what to
    set or run."""
    redis_url = env.get(REDIS_ENV)
    if not redis_url:
        raise ConfigError(
            f"set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0): token refreshes take a lock there "
            "so that concurrent senders refresh once"
        )
    store = open_store(store_path, env)
    credential = store.get(credential_id)
    if credential is None:
        raise ConfigError(
            f"no stored credential {credential_id!r}; run `relayops oauth setup {provider} "
            f"--credential {credential_id}`"
        )
    if credential.provider != provider:
        raise ConfigError(
            f"credential {credential_id!r} is a {credential.provider} credential, not {provider}"
        )
    config = provider_config(provider, tenant=tenant, token_url=token_url)
    endpoint = TokenEndpoint(config, client_credentials(provider, env))
    manager = TokenManager(
        store, {provider: endpoint}, redis.Redis.from_url(redis_url), on_refresh=on_refresh
    )
    return CredentialTokens(manager, credential_id)
