"""What portal and connector agree on over HTTP: message schemas and the API version.

Filled by the sync issue; for now it only fixes the version both sides speak.
"""

SYNC_API_VERSION = "v1"
