"""Old import path; see catalyst.local_server.settings."""

from catalyst.local_server.settings import MockSettings, RecordedRequest

__all__ = ["MockSettings", "RecordedRequest"]
