"""The OpenAPI document describes exactly the routes and methods the server has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jupyter_mux.handlers.mux import NotFoundHandler
from jupyter_mux.hub.handlers import HANDLERS as HUB_HANDLERS
from jupyter_mux.openapi import HUB_ONLY, build_spec

from .test_auth import METHODS, mux_routes, served_methods

DOC = Path(__file__).parent.parent / "docs" / "openapi.json"


def test_committed_document_is_current():
    assert json.loads(DOC.read_text()) == build_spec(), (
        "regenerate: python -m jupyter_mux.openapi > docs/openapi.json"
    )


def test_every_route_and_method_is_described(jp_serverapp):
    """Each documented path goes, as Tornado routes it (first match wins), to a handler with
    exactly the documented methods; and every route is documented."""
    spec_paths = build_spec()["paths"]
    base = jp_serverapp.base_url.rstrip("/")
    routes = mux_routes(jp_serverapp.web_app)
    reached = set()
    for template, operations in spec_paths.items():
        if operations.get(HUB_ONLY):
            continue  # not a route of this server: see the next test
        path = base + re.sub(r"\{\w+\}", "x", template)
        pattern, handler = next((p, h) for p, h in routes if re.fullmatch(p, path))
        reached.add(pattern)
        served = served_methods(handler)
        assert served == {m for m in operations if m in METHODS}, template
    # Every route but the JSON 404 for paths that are none of them.
    assert reached == {p for p, h in routes if h is not NotFoundHandler}


def test_the_hub_services_own_routes_are_described():
    """The paths marked as the Hub service's are its own routes (hub/handlers.py), with
    exactly the documented methods, and every one of its routes is described."""
    hub_paths = {t: ops for t, ops in build_spec()["paths"].items() if ops.get(HUB_ONLY)}
    reached = set()
    for template, operations in hub_paths.items():
        path = template.replace("{scope}", "group").replace("{name}", "x")
        pattern, handler = next((p, h) for p, h in HUB_HANDLERS if re.fullmatch(p, path))
        reached.add(pattern)
        assert served_methods(handler) == {m for m in operations if m in METHODS}, template
    assert reached == {p for p, _ in HUB_HANDLERS}


async def test_served_at_api_openapi_json(api):
    assert await api.ok("GET", "openapi.json") == build_spec()
