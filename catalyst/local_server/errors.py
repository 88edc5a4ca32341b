"""Provider-neutral error facts; each protocol module renders them in its own body format.

The `type` and `code` fields carry OpenAI/Groq vocabulary (`invalid_request_error`,
`model_not_found`, …) because two of the three protocols use it as is; the
Anthropic and Voyage modules translate by status when they render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


@dataclass(frozen=True)
class ApiError:
    """An error response: status, message, error type/code, and any extra headers."""

    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        """Groq's body (`{"error": {message, type, code?, param?}}`), kept for old callers."""
        error: dict[str, object] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None
) -> ApiError:
    return ApiError(400, message, "invalid_request_error", code, param)


def invalid_api_key(message: str = "Invalid API Key") -> ApiError:
    return ApiError(401, message, "invalid_request_error", "invalid_api_key")


def model_not_found(model_id: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model_id}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


_SERVER_ERROR_MESSAGES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


def server_error(status: int) -> ApiError:
    message = _SERVER_ERROR_MESSAGES.get(status, "Internal Server Error")
    return ApiError(status, message, "internal_server_error")


def forced_error(status: int, code: str, message: str) -> ApiError:
    """An error a test forced for one model; the type follows the status class."""
    if status >= 500:
        kind = "internal_server_error"
    elif status == 429:
        kind = "requests"
    else:
        kind = "invalid_request_error"
    return ApiError(status, message, kind, code)


def retry_headers(
    wait_s: float, wait_ms: float | None, as_date: bool = False
) -> dict[str, str]:
    # Whole seconds, rounded up so a client that obeys never comes back early.
    seconds = max(0, math.ceil(wait_s))
    headers = {"retry-after": str(seconds)}
    if as_date:
        when = datetime.now(UTC) + timedelta(seconds=seconds)
        headers["retry-after"] = format_datetime(when, usegmt=True)
    if wait_ms is not None:
        headers["retry-after-ms"] = f"{wait_ms:g}"
    return headers


def go_duration(seconds: float) -> str:
    """Groq's duration style for reset headers and messages: `2m59.56s`, `7.66s`, `480ms`."""
    millis = max(0, math.ceil(round(seconds * 1000, 6)))
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    centis = math.ceil(round(seconds * 100, 6))
    minutes, centis = divmod(centis, 6000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{centis / 100:.2f}".rstrip("0").rstrip(".")
    prefix = (f"{hours}h" if hours else "") + (
        f"{minutes}m" if hours or minutes else ""
    )
    return f"{prefix}{secs}s"
