"""Look for messages by internetMessageId in Graph mail folders: how a caller finds out whether
an ambiguous send (or draft creation) went through before doing it again.

Graph has no idempotency key; the message id, and optionally a custom header carrying a key,
are what identify an earlier attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from relayops.adapters.effects import Call, Steps, run_sync
from relayops.adapters.idempotency import HEADER, LookupFailed
from relayops.adapters.message_id import MessageId
from relayops.adapters.outlook.answers import classify_graph
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.transport import TokenSource, send_steps

_SELECT = "id,internetMessageId,internetMessageHeaders,isDraft"
# With an idempotency header, a folder where the internetMessageId filter finds nothing has its
# newest messages read for the header as well: the header is what Graph surely keeps on the
# Sent Items copy, whereas whether it keeps a client-set internetMessageId is not verified here.
RECENT = 50


@dataclass(frozen=True)
class FoundMessage:
    id: str
    folder: str  # the well-known folder name it was found in
    is_draft: bool


def odata_string(value: str) -> str:
    """`value` as an OData string literal: quoted, each `'` doubled."""
    return "'" + value.replace("'", "''") + "'"


def find_messages(
    client: httpx.Client,
    base_url: str,
    tokens: TokenSource,
    backoff: Backoff,
    message_id: MessageId,
    folders: tuple[str, ...] = ("sentitems", "drafts"),
    key: str | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FoundMessage]:
    """`find_messages_steps` with blocking I/O."""
    steps = find_messages_steps(base_url, backoff, message_id, folders, key)
    return run_sync(steps, client, tokens, sleep)


def find_messages_steps(
    base_url: str,
    backoff: Backoff,
    message_id: MessageId,
    folders: tuple[str, ...] = ("sentitems", "drafts"),
    key: str | None = None,
) -> Steps[list[FoundMessage]]:
    """Messages with this Message-ID as their internetMessageId in `folders`, in that order; when
    the idempotency `key` is given, only those carrying it in their idempotency header, or
    failing any, the folder's RECENT newest messages carrying it.

    Raises LookupFailed when a folder could not be searched: that is not "not found".
    """
    found: list[FoundMessage] = []
    internet_message_id = message_id.header
    by_id = {
        "$filter": f"internetMessageId eq {odata_string(internet_message_id)}",
        "$select": _SELECT,
    }
    for folder in folders:
        listed = yield from _list(base_url, backoff, folder, by_id)
        items = [
            item
            for item in listed
            if item.get("internetMessageId") == internet_message_id
            and (key is None or _has_key(item, key))
        ]
        if not items and key is not None:
            recent = {"$select": _SELECT, "$top": str(RECENT)}
            listed = yield from _list(base_url, backoff, folder, recent)
            items = [item for item in listed if _has_key(item, key)]
        found += [FoundMessage(item["id"], folder, bool(item.get("isDraft"))) for item in items]
    return found


def _list(
    base_url: str, backoff: Backoff, folder: str, params: dict[str, str]
) -> Steps[list[dict]]:
    """The `value` of one folder listing; LookupFailed when there is none."""
    url = f"{base_url.rstrip('/')}/v1.0/me/mailFolders/{folder}/messages"

    def build(token: str) -> Call:
        return Call("GET", url, params=params, headers={"Authorization": f"Bearer {token}"})

    attempted = yield from send_steps(build, backoff, answers=classify_graph)
    if attempted.outcome is not Outcome.SENT or attempted.body is None:
        raise LookupFailed(
            f"looking in {folder} failed: {attempted.outcome} "
            f"(HTTP {attempted.status}) {attempted.detail}".rstrip()
        )
    return [item for item in attempted.body.get("value") or [] if isinstance(item, dict)]


def _has_key(item: dict, key: str) -> bool:
    return any(
        h.get("name", "").lower() == HEADER.lower() and h.get("value") == key
        for h in item.get("internetMessageHeaders") or []
    )
