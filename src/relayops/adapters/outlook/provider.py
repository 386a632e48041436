"""Outlook (Microsoft Graph) behind the send flow's Provider interface."""

from __future__ import annotations

from enum import StrEnum

from relayops.adapters.built_check import check_graph
from relayops.adapters.effects import Steps
from relayops.adapters.idempotency import key_of
from relayops.adapters.message import Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.outlook.answers import classify_graph
from relayops.adapters.outlook.graph import REQUEST_LIMIT_BYTES, stand_in_body
from relayops.adapters.outlook.lookup import find_messages_steps
from relayops.adapters.outlook.upload import delete_draft_steps, send_large_steps
from relayops.adapters.provider import Built, UploadEvents, post_built
from relayops.adapters.retry import Backoff
from relayops.adapters.transport import Attempted
from relayops.spec.provider import ProviderSpec

GRAPH_API = "https://graph.microsoft.com"
SEND_MAIL_PATH = "/v1.0/me/sendMail"
DRAFTS_PATH = "/v1.0/me/messages"


class OutlookRoute(StrEnum):
    SEND_MAIL = "send_mail"  # Graph sendMail, the whole message in one JSON body
    UPLOAD_SESSION = "upload_session"  # Graph draft, upload sessions, send


class OutlookProvider:
    api_base = GRAPH_API
    build_role = "graph_payload_build"
    token_env = "OUTLOOK_ACCESS_TOKEN"

    def __init__(self, spec: ProviderSpec):
        self.save_to_sent_items = spec.send.save_to_sent_items

    def build(self, message: Message, digest: str, notes: tuple[str, ...]) -> Built:
        send_mail = stand_in_body(message, save_to_sent_items=self.save_to_sent_items)
        # Checked once per message, whichever route: the draft of the upload route is the same
        # message resource with the same recipients, headers and attachments.
        check_graph(send_mail.skeleton, message)
        if send_mail.size <= REQUEST_LIMIT_BYTES:
            body = send_mail.spliced()
            route = OutlookRoute.SEND_MAIL
            return Built(message, digest, route, body, "application/json", SEND_MAIL_PATH, notes)
        note = "sent as a draft with upload sessions (over sendMail's 4 MB request limit)"
        route = OutlookRoute.UPLOAD_SESSION
        return Built(message, digest, route, b"", "application/json", DRAFTS_PATH, (*notes, note))

    def send(
        self, base_url: str, built: Built, backoff: Backoff, on_upload: UploadEvents
    ) -> Steps[Attempted]:
        if built.route == OutlookRoute.UPLOAD_SESSION:
            return (
                yield from send_large_steps(
                    base_url,
                    built.message,
                    save_to_sent_items=self.save_to_sent_items,
                    backoff=backoff,
                    on_event=on_upload,
                )
            )
        return (yield from post_built(base_url, built, backoff, classify_graph))

    def can_look_up(self) -> bool:
        """Graph finds only the copy kept in Sent Items."""
        return self.save_to_sent_items

    def find(
        self, base_url: str, backoff: Backoff, message_id: MessageId, key: str | None
    ) -> Steps[str | None]:
        messages = yield from find_messages_steps(
            base_url,
            backoff,
            message_id,
            folders=("sentitems",),
            key=key,
        )
        return messages[0].id if messages else None

    def discard_unsent(self, base_url: str, backoff: Backoff, built: Built) -> Steps[None]:
        """A draft whose send was ambiguous and that never reached Sent Items was not sent:
        delete it before a resend builds a new one (best effort; a leftover draft sends
        nothing)."""
        message_id = built.message.message_id
        if built.route != OutlookRoute.UPLOAD_SESSION or message_id is None:
            return
        key = key_of(built.message)
        drafts = yield from find_messages_steps(
            base_url,
            backoff,
            message_id,
            folders=("drafts",),
            key=key,
        )
        for draft in drafts:
            yield from delete_draft_steps(base_url, backoff, draft.id)
