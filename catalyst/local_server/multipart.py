"""multipart/form-data bodies (RFC 7578), as the SDKs' httpx clients send them.

Split on the boundary exactly, so a file part's bytes come back unchanged
(the standard library's email parser is built for text and may not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_PARAMETER = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class FormPart:
    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


def parse_form(body: bytes, content_type: str | None) -> list[FormPart] | None:
    """The parts of a multipart/form-data body, in order; None when it is not one."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        return None
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    boundary = (match.group(1) or match.group(2)).encode()
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary)
    if len(sections) < 2:
        return None
    parts: list[FormPart] = []
    # sections[0] is the preamble; the closing delimiter is followed by "--".
    for section in sections[1:]:
        if section.startswith(b"--"):
            return parts
        head, separator, value = section.partition(b"\r\n\r\n")
        if not separator:
            return None
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, header_value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = header_value.strip()
        disposition = dict(_PARAMETER.findall(headers.get("content-disposition", "")))
        if "name" not in disposition:
            return None
        parts.append(FormPart(disposition["name"], value, disposition.get("filename"),
                              headers.get("content-type")))
    # No closing delimiter: a truncated body.
    return None
