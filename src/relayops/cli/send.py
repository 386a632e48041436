"""`relayops send gmail|outlook --to ADDR [--full-test] [--dry-run] [--credential ID]`: the
smoke test before a rollout. It sends one message through the real adapter to the provider's
API, or to a fake server with `--base-url`, with the access token from the environment, or with
`--credential` a credential stored by `relayops oauth setup`, refreshed as the product's are.

The rollout gate is not asked: a smoke test must reach the provider whatever the percentage.
Exit codes: 0 sent (or previewed), 1 the send failed (the structured error is printed), 2 bad
arguments or no token.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.providers import PROVIDERS, provider_for
from relayops.adapters.smoke import AlwaysOpen, StaticToken, smoke_params
from relayops.adapters.transport import TokenSource
from relayops.cli.common import CommandError, Exit, provider_named, specs_from
from relayops.oauth.keys import KeyConfigError
from relayops.oauth.open_store import DEFAULT_SQLITE_PATH, StoreConfigError
from relayops.oauth.providers import ConfigError
from relayops.oauth.refresh import CredentialTokens
from relayops.oauth.source import stored_tokens
from relayops.spec.provider import ProviderSpec

_SETUP_ERRORS = (ConfigError, KeyConfigError, StoreConfigError)


def _tokens(args: argparse.Namespace, spec: ProviderSpec, token_env: str) -> TokenSource:
    """The stored credential's tokens with --credential (the OAuth provider is the spec's
    `provider` label), else the token in the environment (none needed for a dry run)."""
    if args.credential:
        return stored_tokens(
            args.credential,
            spec.provider,
            os.environ,
            store_path=args.store,
            token_url=args.token_url,
        )
    token = os.environ.get(token_env)
    if not token and not args.dry_run:
        raise ConfigError(
            f"set {token_env} to an access token for {args.provider}, or use "
            "--credential ID (or --dry-run)"
        )
    return StaticToken(token or "")


def cmd_send(args: argparse.Namespace) -> int:
    specs = specs_from(args.specs)
    spec = specs.provider(provider_named(specs, args.provider))
    api = provider_for(spec)
    try:
        tokens = _tokens(args, spec, api.token_env)
    except _SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from exc
    adapter = SendAdapter(
        specs, args.provider, AlwaysOpen(), tokens, base_url=args.base_url, api=api
    )
    if isinstance(tokens, CredentialTokens):
        tokens.manager.on_refresh = adapter.count_refresh
    params = smoke_params(args.to, args.full_test)
    action = spec.action
    if args.dry_run:
        preview = adapter.preview(action, params)
        body = {
            "ok": preview.ok,
            "summary": preview.summary,
            "warnings": list(preview.warnings),
            "digest": preview.digest,
            "error": None if preview.error is None else preview.error.to_dict(),
        }
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return Exit.OK if preview.ok else Exit.FAILED
    result = adapter.execute(action, params, "smoke-test", "smoke-test")
    body = {
        "ok": result.ok,
        "correlation_id": result.correlation_id,
        "provider_id": result.provider_id,
        "attempts": result.attempts,
        "digest": result.digest,
        "error": None if result.error is None else result.error.to_dict(),
    }
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return Exit.OK if result.ok else Exit.FAILED


def register(subparsers: argparse._SubParsersAction) -> None:
    send = subparsers.add_parser(
        "send",
        help="smoke-test a send adapter against the provider or a fake server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument("provider", choices=sorted(PROVIDERS), help="provider spec name")
    send.add_argument("--to", required=True, help="recipient address")
    send.add_argument(
        "--full-test", action="store_true", help="HTML, an inline image and an attachment"
    )
    send.add_argument("--dry-run", action="store_true", help="build and preview only, no network")
    send.add_argument(
        "--base-url", default=None, help="API base URL (default: the provider's real API)"
    )
    send.add_argument(
        "--credential", default=None, help="send with this stored OAuth credential (REDIS_URL)"
    )
    send.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_SQLITE_PATH,
        help=f"SQLite token store when DATABASE_URL is unset (default: {DEFAULT_SQLITE_PATH})",
    )
    send.add_argument("--token-url", default=None, help="OAuth token endpoint URL override")
    send.add_argument("--specs", type=Path, default=Path("specs"), help="specs folder")
    send.set_defaults(func=cmd_send)
