"""Old import path; see catalyst.local_server.server."""

from catalyst.local_server.server import LocalServer, MockGroqServer, _HTTPServer

__all__ = ["LocalServer", "MockGroqServer", "_HTTPServer"]
