"""Gmail (Gmail API users.messages.send): the RFC 5322 message sent as JSON `raw`, through
the media upload endpoint, or a resumable upload, by size; found again by its Message-ID."""
