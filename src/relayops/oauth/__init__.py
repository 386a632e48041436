"""OAuth credentials for the send adapters: encrypted token store, refresh, setup."""
