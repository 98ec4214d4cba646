"""What every jupyter-mux handler shares: Jupyter auth on the `jupyter_mux` resource, access
to the service, JSON in and out."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel

from ..errors import InvalidRequest, MuxError
from ..proxy import Proxy
from ..service import MuxService

AUTH_RESOURCE = "jupyter_mux"
SERVICE_KEY = "jupyter_mux_service"
PROXY_KEY = "jupyter_mux_proxy"
STARTUP_ERROR_KEY = "jupyter_mux_startup_error"


class BaseHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> MuxService:
        error = self.settings.get(STARTUP_ERROR_KEY)
        if error:
            raise MuxError(error, status=503, code="mux_unavailable")
        return self.settings[SERVICE_KEY]

    @property
    def proxy(self) -> Proxy:
        return self.settings[PROXY_KEY]

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidRequest(
                f"The request body is not valid JSON: {exc}.", code="invalid_json"
            ) from None

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(to_jsonable(value)))


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


class ManagementHandler(BaseHandler):
    """Errors in Jupyter's `{"message", "reason"}` shape, as the lab front end expects."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MuxError):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.jupyter_body()))
            return
        super().write_error(status_code, **kwargs)
