"""Outlook (Microsoft Graph): sendMail with the message as JSON, or a draft filled through
upload sessions and then sent, by size; found again in Sent Items by internetMessageId."""
