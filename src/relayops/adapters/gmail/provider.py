"""Gmail behind the send flow's Provider interface."""

from __future__ import annotations

import json
from enum import StrEnum

from relayops.adapters.effects import Steps
from relayops.adapters.errors import ErrorCode, SendError, error
from relayops.adapters.gmail.lookup import find_by_message_id_steps
from relayops.adapters.gmail.upload import UPLOAD_PATH, check_size, send_resumable_steps
from relayops.adapters.message import Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.mime import mime_bytes, raw_for_gmail
from relayops.adapters.provider import Built, UploadEvents, nothing_to_discard, post_built
from relayops.adapters.retry import Backoff
from relayops.adapters.transport import Attempted

GMAIL_API = "https://gmail.googleapis.com"
SEND_PATH = "/gmail/v1/users/me/messages/send"
# The JSON endpoint fails somewhere between 1 and 6.5 MB of `raw`; above 1 MB the message
# goes to the media upload endpoint (up to 35 MB) as plain RFC 5322 bytes.
GMAIL_JSON_LIMIT = 1_000_000
# Google's guidance: simple (media) uploads for files up to 5 MB, resumable uploads above.
GMAIL_MEDIA_LIMIT = 5 * 1024 * 1024


class GmailRoute(StrEnum):
    GMAIL_JSON = "gmail_json"  # users.messages.send with `raw`
    GMAIL_MEDIA = "gmail_media"  # upload endpoint, uploadType=media
    GMAIL_RESUMABLE = "gmail_resumable"  # upload endpoint, uploadType=resumable


class GmailProvider:
    api_base = GMAIL_API
    build_role = "mime_build"
    token_env = "GMAIL_ACCESS_TOKEN"

    def build(self, message: Message, digest: str, notes: tuple[str, ...]) -> Built:
        body = mime_bytes(message)
        try:
            check_size(len(body))
        except ValueError as exc:
            raise SendError(error(ErrorCode.TOO_LARGE, str(exc), field="attachments")) from exc
        if len(body) > GMAIL_MEDIA_LIMIT:
            note = "sent through a resumable upload (over the simple-upload size)"
            route, path = GmailRoute.GMAIL_RESUMABLE, f"{UPLOAD_PATH}?uploadType=resumable"
            return Built(message, digest, route, body, "message/rfc822", path, (*notes, note))
        if len(body) * 4 // 3 > GMAIL_JSON_LIMIT:
            note = "sent through the media upload endpoint (over the JSON limit)"
            route, path = GmailRoute.GMAIL_MEDIA, f"{UPLOAD_PATH}?uploadType=media"
            return Built(message, digest, route, body, "message/rfc822", path, (*notes, note))
        raw = json.dumps({"raw": raw_for_gmail(body)}, separators=(",", ":")).encode("ascii")
        return Built(
            message, digest, GmailRoute.GMAIL_JSON, raw, "application/json", SEND_PATH, notes
        )

    def send(
        self, base_url: str, built: Built, backoff: Backoff, on_upload: UploadEvents
    ) -> Steps[Attempted]:
        if built.route == GmailRoute.GMAIL_RESUMABLE:
            return (yield from send_resumable_steps(base_url, built.body, backoff=backoff))
        return (yield from post_built(base_url, built, backoff))

    def can_look_up(self) -> bool:
        """Gmail's search finds any sent message by its Message-ID."""
        return True

    def find(
        self, base_url: str, backoff: Backoff, message_id: MessageId, key: str | None
    ) -> Steps[str | None]:
        ids = yield from find_by_message_id_steps(base_url, backoff, message_id)
        return ids[0] if ids else None

    def discard_unsent(self, base_url: str, backoff: Backoff, built: Built) -> Steps[None]:
        return (yield from nothing_to_discard())
