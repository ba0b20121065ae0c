"""What portal and connector agree on over HTTP: the sync API's version, paths and
message schemas (``messages``). Both sides import this package; it imports neither."""

SYNC_API_VERSION = "v1"
# Where the sync API lives on the portal (relative to the portal's base URL).
SYNC_API_PREFIX = f"/api/{SYNC_API_VERSION}/sync"
# The long poll of the change feed answers after at most this many seconds without news.
MAX_FEED_WAIT_SECONDS = 25
IDEMPOTENCY_HEADER = "Idempotency-Key"
