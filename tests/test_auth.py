"""No jupyter-mux route answers without Jupyter credentials.

The routes are read from the running server's own route table, so a route added later is
covered without touching this test."""

from __future__ import annotations

import re

import httpx
import pytest

SAMPLES = {"name": "default", "workspace": "default", "route": "chat/completions"}
METHODS = ("get", "post", "put", "patch", "delete")


def mux_routes(web_app) -> list[tuple[str, type]]:
    routes = []
    for host_rule in web_app.default_router.rules:
        for rule in getattr(host_rule.target, "rules", []):
            handler = rule.target
            if isinstance(handler, type) and handler.__module__.startswith("jupyter_mux."):
                routes.append((rule.matcher.regex.pattern, handler))
    return routes


def concrete_path(pattern: str) -> str:
    path = re.sub(r"\(\?P<(\w+)>[^()]*\)", lambda m: SAMPLES[m.group(1)], pattern)
    path = path.replace("(?:", "").replace(")?", "").rstrip("$")
    assert re.fullmatch(pattern, path), (pattern, path)
    return path


def test_route_table_is_what_api_md_lists(jp_serverapp):
    paths = {concrete_path(p) for p, _ in mux_routes(jp_serverapp.web_app)}
    base = jp_serverapp.base_url
    assert {p.removeprefix(base) for p in paths} >= {
        "mux/w/default/v1/chat/completions",
        "mux/w/default/v1/models",
        "mux/api/provider-types",
        "mux/api/providers",
        "mux/api/providers/default",
        "mux/api/providers/default/models",
        "mux/api/providers/default/refresh",
        "mux/api/workspaces",
        "mux/api/workspaces/default",
        "mux/api/active",
    }


async def test_every_route_refuses_without_credentials(jp_serverapp, server_url, api):
    host = server_url.split(jp_serverapp.base_url)[0]
    checked = 0
    async with httpx.AsyncClient() as http:
        for pattern, handler in mux_routes(jp_serverapp.web_app):
            path = concrete_path(pattern)
            for method in METHODS:
                if method not in vars(handler):
                    continue
                for headers in (
                    {},
                    {"Authorization": "token wrong"},
                    {"Authorization": "Bearer wrong"},
                ):
                    response = await http.request(
                        method.upper(), host + path, headers=headers, content=b"{}"
                    )
                    assert response.status_code == 403, (method, path, headers)
                    assert "default" not in response.text
                    checked += 1
    assert checked >= 3 * 15
    # Nothing was changed by the refused writes.
    assert [w["name"] for w in await api.ok("GET", "workspaces")] == ["default"]


async def test_cookie_without_xsrf_cannot_write(jp_serverapp, server_url, token):
    async with httpx.AsyncClient() as http:
        login = await http.get(f"{server_url}?token={token}")
        assert login.status_code == 200 and http.cookies
        response = await http.post(server_url + "mux/api/workspaces", json={"name": "sneaky"})
        assert response.status_code == 403
        listed = await http.get(server_url + "mux/api/workspaces")
        assert listed.status_code == 200
        assert [w["name"] for w in listed.json()] == ["default"]


@pytest.mark.parametrize("scheme", ["token", "Bearer", "bearer"])
async def test_token_schemes_accepted(server_url, token, scheme):
    async with httpx.AsyncClient() as http:
        response = await http.get(
            server_url + "mux/api/active", headers={"Authorization": f"{scheme} {token}"}
        )
    assert response.json() == {"name": "default"}
