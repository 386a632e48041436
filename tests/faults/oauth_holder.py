"""One sender's `access_token()` in a process of its own, so a test can kill it mid-refresh.

`python -m tests.faults.oauth_holder CONFIG_JSON`: a TokenManager on the given PostgreSQL store,
Redis and fake token endpoint; prints `token <access token>` or `error <type>: <message>`.
"""

from __future__ import annotations

import json
import sys

import redis

from relayops.oauth.cipher import TokenCipher
from relayops.oauth.postgres_store import PostgresTokenStore
from relayops.oauth.providers import ClientCredentials, TokenEndpoint, microsoft
from relayops.oauth.refresh import TokenManager
from relayops.oauth.store import TokenStore


def manager_from(config: dict, store: TokenStore | None = None) -> TokenManager:
    """The TokenManager a config describes (also used in-process by the tests)."""
    cipher = TokenCipher([config["key"]])
    client = ClientCredentials(config["client_id"], config["client_secret"])
    answer = config.get("answer_seconds", 10.0)
    endpoint = TokenEndpoint(microsoft("common", config["fake_url"]), client, answer_seconds=answer)
    return TokenManager(
        store or PostgresTokenStore(config["pg_url"], cipher),
        {"microsoft": endpoint},
        redis.Redis.from_url(config["redis_url"]),
        wait_seconds=config.get("wait_seconds", 10.0),
        lock_timeout=config.get("lock_timeout", 1.0),
        lock_wait=config.get("lock_wait", 10.0),
        store_write_seconds=config.get("store_write_seconds", 30.0),
    )


def main() -> None:
    config = json.loads(sys.argv[1])
    try:
        token = manager_from(config).access_token(config["credential_id"])
    except Exception as exc:  # reported to the test, which judges it
        print(f"error {type(exc).__name__}: {exc}", flush=True)
        return
    print(f"token {token}", flush=True)


if __name__ == "__main__":
    main()
