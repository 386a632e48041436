"""`relayops oauth setup|rotate-key|status`: connect a mailbox, re-encrypt the token store
under the newest key, list the stored credentials. Tokens are never printed.

Keys come from RELAYOPS_TOKEN_KEYS (or RELAYOPS_TOKEN_KEYS_FILE); the store is PostgreSQL when
DATABASE_URL is a postgresql:// URL, else the SQLite file --store.
Exit codes: 0 ok, 1 the operation failed, 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
from pathlib import Path

import redis

from relayops.cli.common import CommandError, Exit
from relayops.oauth.cipher import DecryptError
from relayops.oauth.keys import KeyConfigError
from relayops.oauth.open_store import DEFAULT_SQLITE_PATH, StoreConfigError, open_store
from relayops.oauth.providers import ConfigError, TokenEndpoint, client_credentials, provider_config
from relayops.oauth.recovery import RecoverySlot
from relayops.oauth.setup import SetupError, begin, complete, load_pending, save_pending
from relayops.oauth.store import PROVIDERS, StoreUnavailable, TokenStore
from relayops.spec import env as env_names

DEFAULT_REDIRECT_URI = "http://localhost:8765/oauth/callback"
_CREDENTIAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
_STORE_ERRORS = (StoreUnavailable, sqlite3.Error, DecryptError)  # sqlite3: opening the file


def _open(args: argparse.Namespace) -> TokenStore:
    return open_store(args.store, os.environ)


def _pending_path(store: Path, credential_id: str) -> Path:
    return store.parent / "oauth-pending" / f"{credential_id}.json"


def cmd_setup(args: argparse.Namespace) -> int:
    if not _CREDENTIAL_ID.fullmatch(args.credential):
        raise CommandError("--credential takes letters, digits and . _ @ + - (at most 200)")
    try:
        config = provider_config(
            args.provider,
            tenant=args.tenant,
            auth_base_url=args.auth_base_url,
            token_url=args.token_url,
        )
        client = client_credentials(args.provider, os.environ)
        store = _open(args)
    except (ConfigError, KeyConfigError, StoreConfigError) as exc:
        raise CommandError(str(exc)) from exc
    pending = _pending_path(args.store, args.credential)
    try:
        if args.redirect_url:
            request = load_pending(pending, store.cipher, args.credential)
            if request.provider != args.provider:
                raise CommandError(f"the pending authorization is for {request.provider}")
            redirect_url = args.redirect_url
        else:
            request = begin(config, client.client_id, args.redirect_uri, args.credential)
            save_pending(pending, store.cipher, request)
            print(request.url)
            print(
                "Open the URL above, consent, then paste the full URL your browser was "
                "redirected to (or run again with --redirect-url URL):",
                file=sys.stderr,
            )
            redirect_url = sys.stdin.readline().strip()
            if not redirect_url:
                raise CommandError(
                    "no redirect URL read; run again with --redirect-url URL", Exit.FAILED
                )
        credential = complete(request, redirect_url, TokenEndpoint(config, client), store)
    except SetupError as exc:
        raise CommandError(str(exc), Exit.FAILED) from exc
    except _STORE_ERRORS as exc:
        raise CommandError(f"token store: {exc}", Exit.FAILED) from exc
    pending.unlink(missing_ok=True)
    print(
        f"stored credential {credential.credential_id} ({credential.provider}); "
        f"access token expires {credential.expires_at.isoformat(timespec='seconds')}"
    )
    return Exit.OK


def cmd_rotate_key(args: argparse.Namespace) -> int:
    try:
        store = _open(args)
        count = store.rotate_key()
    except (KeyConfigError, StoreConfigError) as exc:
        raise CommandError(str(exc)) from exc
    except _STORE_ERRORS as exc:
        raise CommandError(f"rotate-key failed, nothing changed: {exc}", Exit.FAILED) from exc
    print(f"re-encrypted {count} credential(s) under the newest key")
    return Exit.OK


def cmd_status(args: argparse.Namespace) -> int:
    try:
        store = _open(args)
        credentials = [store.get(credential_id) for credential_id in store.ids()]
    except (KeyConfigError, StoreConfigError) as exc:
        raise CommandError(str(exc)) from exc
    except _STORE_ERRORS as exc:
        raise CommandError(f"token store: {exc}", Exit.FAILED) from exc
    if not credentials:
        print("no OAuth credentials stored")
        return Exit.OK
    present = [c for c in credentials if c is not None]  # deleted between ids() and get()
    waiting, note = _waiting(store, present)
    for credential in present:
        expires = credential.expires_at.isoformat(timespec="seconds")
        print(
            f"{credential.credential_id}\t{credential.provider}\texpires {expires}\t"
            f"version {credential.version}{waiting.get(credential.credential_id, '')}"
        )
    if note:
        print(note)
    return Exit.OK


def _waiting(store: TokenStore, credentials: list) -> tuple[dict[str, str], str | None]:
    """A remark per credential whose refreshed token waits in the recovery slot for the store
    (relayops.oauth.recovery), and a note when the slots could not be looked at."""
    url = os.environ.get(env_names.REDIS_URL)
    if not url:
        return {}, f"recovery slots not checked: set {env_names.REDIS_URL} to see them"
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    slots = RecoverySlot(client, store.cipher)
    waiting = {}
    try:
        for credential in credentials:
            found = slots.load(credential.credential_id)
            if found is not None and found[0].version == credential.version:
                waiting[credential.credential_id] = (
                    "\tREFRESHED TOKEN WAITING in the recovery slot: the next refresh stores it"
                )
    except redis.RedisError as exc:
        return {}, f"recovery slots not checked: Redis at {url}: {exc}"
    finally:
        client.close()
    return waiting, None


def register(subparsers: argparse._SubParsersAction) -> None:
    oauth = subparsers.add_parser(
        "oauth",
        help="connect mailboxes (OAuth) and manage the encrypted token store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = oauth.add_subparsers(dest="oauth_command", metavar="COMMAND", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_SQLITE_PATH,
        help=f"SQLite token store when DATABASE_URL is unset (default: {DEFAULT_SQLITE_PATH})",
    )

    setup = commands.add_parser(
        "setup", parents=[store], help="authorize a mailbox and store its tokens"
    )
    setup.add_argument("provider", choices=PROVIDERS)
    setup.add_argument("--credential", required=True, help="id to store the tokens under")
    setup.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI, help="registered URI")
    setup.add_argument("--redirect-url", default=None, help="the URL the browser was sent to")
    setup.add_argument("--tenant", default="common", help="Microsoft tenant (default: common)")
    setup.add_argument("--auth-base-url", default=None, help="authorization server base URL")
    setup.add_argument("--token-url", default=None, help="token endpoint URL")
    setup.set_defaults(func=cmd_setup)

    rotate = commands.add_parser(
        "rotate-key", parents=[store], help="re-encrypt every stored token under the newest key"
    )
    rotate.set_defaults(func=cmd_rotate_key)

    status = commands.add_parser(
        "status", parents=[store], help="list credentials, providers and expiry"
    )
    status.set_defaults(func=cmd_status)
