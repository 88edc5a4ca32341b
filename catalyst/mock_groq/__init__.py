"""The old home of the local server, when it spoke Groq's protocol only.

Kept so existing imports keep working; the code lives in `catalyst.local_server`.
"""

from catalyst.local_server import LocalServer, MockGroqServer, MockSettings, RecordedRequest

__all__ = ["LocalServer", "MockGroqServer", "MockSettings", "RecordedRequest"]
