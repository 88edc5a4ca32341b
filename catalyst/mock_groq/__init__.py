"""A local server speaking Groq's wire protocol, with deterministic fault injection."""

from catalyst.mock_groq.server import MockGroqServer
from catalyst.mock_groq.settings import MockSettings, RecordedRequest

__all__ = ["MockGroqServer", "MockSettings", "RecordedRequest"]
