"""One local server for Groq's, OpenAI's and Anthropic's wire protocols (plus Voyage-shaped
embeddings), with deterministic fault injection and request recording.

Layout: a provider-neutral core (server.py, handler.py, responder.py, flows.py,
faults.py, state.py, replies.py, embeddings.py, routing.py) and one module per
protocol under protocols/ that only knows paths, validation, bodies, SSE
framing and error bodies. Switches are the fields of MockSettings and apply to
every protocol's chat and embeddings requests alike.
"""

from catalyst.local_server.server import LocalServer, MockGroqServer
from catalyst.local_server.settings import MockSettings, RecordedRequest

__all__ = ["LocalServer", "MockGroqServer", "MockSettings", "RecordedRequest"]
