"""The OpenAPI document describes exactly the routes and methods the server has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jupyter_mux.openapi import build_spec

from .test_auth import METHODS, mux_routes

DOC = Path(__file__).parent.parent / "docs" / "openapi.json"


def test_committed_document_is_current():
    assert json.loads(DOC.read_text()) == build_spec(), (
        "regenerate: python -m jupyter_mux.openapi > docs/openapi.json")


def test_every_route_and_method_is_described(jp_serverapp):
    spec_paths = build_spec()["paths"]
    base = jp_serverapp.base_url.rstrip("/")
    described: set[tuple[str, str]] = set()
    for template, operations in spec_paths.items():
        regex = re.sub(r"\{\w+\}", "[^/]+", template)
        described |= {(regex, m) for m in operations if m in METHODS}
    served: set[tuple[str, str]] = set()
    for pattern, handler in mux_routes(jp_serverapp.web_app):
        templates = [t for t in spec_paths
                     if re.fullmatch(pattern, base + re.sub(r"\{\w+\}", "x", t))]
        assert templates, f"route {pattern} is not in the OpenAPI document"
        served |= {(re.sub(r"\{\w+\}", "[^/]+", t), m)
                   for t in templates for m in METHODS if m in vars(handler)}
    assert served == described


async def test_served_at_api_openapi_json(api):
    assert await api.ok("GET", "openapi.json") == build_spec()
