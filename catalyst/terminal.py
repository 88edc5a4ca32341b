"""Text on its way to a terminal: nothing in it may drive the terminal or leak a secret.

Labels, ids and messages come from other people's files. An escape sequence in
one could rewrite the user's screen, so control and format characters (other
than line breaks and tabs) are shown escaped; API keys are cut to their prefix
and passwords in URLs replaced.
"""

from __future__ import annotations

import json
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


def printable_json(payload: object) -> str:
    """Indented JSON whose strings escape the same characters `printable` does
    (json.dumps escapes only C0 controls; C1 and bidi characters pass through)."""
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    return "".join(f"\\u{ord(char):04x}" if _invisible(char) else char for char in text)


def _invisible(char: str) -> bool:
    return char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _escape(char: str) -> str:
    if not _invisible(char):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
