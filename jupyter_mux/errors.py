"""Errors that carry their own HTTP status.

One exception family serves both faces of the extension: the management API renders it in
Jupyter's `{"message", "reason"}` shape, the mux renders it in OpenAI's `{"error": {...}}`
shape, so services raise without knowing which face called them.
"""

from __future__ import annotations

from http import HTTPStatus

from tornado.web import HTTPError

# OpenAI's SDKs pick their exception class from the status, but users read `type`.
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_implemented_error",
    502: "upstream_error",
    504: "timeout_error",
}


class MuxError(HTTPError):
    """An error a client can act on: its message says what went wrong and how to fix it.

    It is a Tornado `HTTPError` so that Tornado answers with its status and logs it as a
    client error rather than a crash; the message travels as a log argument, never as a
    format string, so a `%` in a user's name cannot break logging.
    """

    status = 500
    code = "internal_error"
    # Seconds until asking again can succeed (a 429's `Retry-After`), where known.
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        super().__init__(self.status, "%s", message, reason=_phrase(self.status))
        self.message = message
        if code is not None:
            self.code = code
        self.param = param

    def __str__(self) -> str:
        return self.message

    def openai_body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": _OPENAI_TYPES.get(self.status, "api_error"),
                "param": self.param,
                "code": self.code,
            }
        }

    def jupyter_body(self) -> dict:
        return {"message": self.message, "reason": self.reason}


def _phrase(status: int) -> str:
    """The reason phrase; a status Python does not know (Anthropic's 529) still has one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Upstream Error" if status >= 500 else "Client Error"


class InvalidRequest(MuxError):
    status = 400
    code = "invalid_request"


class NotFound(MuxError):
    status = 404
    code = "not_found"


class Forbidden(MuxError):
    status = 403
    code = "forbidden"


class Conflict(MuxError):
    status = 409
    code = "conflict"


class NoUsableModel(MuxError):
    """The workspace cannot route: it has no model, or its provider is gone."""

    status = 409
    code = "workspace_has_no_model"


class UpstreamError(MuxError):
    """The provider failed or refused; `status` is the one the client should see.

    `retryable` failures (unreachable, timed out, 5xx, 429) send the request on to the next
    target of a rule, as long as nothing has reached the client yet."""

    status = 502
    code = "upstream_error"

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 429
