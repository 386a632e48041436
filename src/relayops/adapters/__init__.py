"""The Gmail and Outlook send adapters, their message building and their fake servers."""
