"""Synthetic send-path traffic pushed to a real Pushgateway, scenario by scenario."""
