"""Old import path; see catalyst.local_server.errors and protocols/groq.py."""

from catalyst.local_server.errors import ApiError, go_duration

__all__ = ["ApiError", "go_duration"]
