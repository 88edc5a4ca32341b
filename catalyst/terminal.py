"""Text on its way to a terminal: nothing in it may drive the terminal or leak a secret.

Labels, ids and messages come from other people's files. An escape sequence in
one could rewrite the user's screen, so control and format characters (other
than line breaks and tabs) are shown escaped; API keys are cut to their prefix
and passwords in URLs replaced.
"""

from __future__ import annotations

import re
import unicodedata

from catalyst.keys import redact

# user:password@ (or a bare token@) in a URL's authority, and secrets in its query string.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_URL_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:api[_-]?key|key|token|access_token|secret|password|sig)=)[^&\s#]*",
    re.IGNORECASE,
)


def redact_url_credentials(text: str) -> str:
    """`http://user:pass@host/?token=x` -> `http://***@host/?token=***`."""
    text = _URL_CREDENTIALS.sub(lambda m: m["scheme"] + "***@", text)
    return _URL_QUERY_SECRET.sub(lambda m: m["name"] + "***", text)


def printable(text: str) -> str:
    """`text` safe to print: control characters escaped, keys and URL passwords hidden."""
    escaped = "".join(_escape(char) for char in text)
    return redact_url_credentials(redact(escaped))


def _escape(char: str) -> str:
    if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp"):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
