"""The environment variables naming the services relayops talks to, spelled once for every
command that reads them."""

PROMETHEUS_URL = "PROMETHEUS_URL"
PUSHGATEWAY_URL = "PUSHGATEWAY_URL"
REDIS_URL = "REDIS_URL"
DATABASE_URL = "DATABASE_URL"  # the OAuth token store, when PostgreSQL
CACHE_DIR = "RELAYOPS_CACHE_DIR"  # where simulated promtool scenarios are kept; empty: nowhere
XDG_CACHE_HOME = "XDG_CACHE_HOME"
