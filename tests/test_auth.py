"""No jupyter-mux route answers without Jupyter credentials: the mux's routes (for AI
clients) answer 401 in their dialect's shape, the management routes Jupyter's 403.

The routes are read from the running server's own route table, so a route added later is
covered without touching this test."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web

from jupyter_mux.handlers.mux import MuxHandler

SAMPLES = {
    "name": "default",
    "workspace": "default",
    "route": "chat/completions",
    "response_id": "resp_1",
    "model": "tiny",
    "key_id": "k1",
}
METHODS = ("get", "post", "put", "patch", "delete")


def mux_routes(web_app) -> list[tuple[str, type]]:
    routes = []
    for host_rule in web_app.default_router.rules:
        for rule in getattr(host_rule.target, "rules", []):
            handler = rule.target
            if isinstance(handler, type) and handler.__module__.startswith("jupyter_mux."):
                routes.append((rule.matcher.regex.pattern, handler))
    return routes


def served_methods(handler: type) -> set[str]:
    """The HTTP methods a handler class serves (its own or inherited from a mux base)."""
    return {m for m in METHODS if getattr(handler, m) is not getattr(web.RequestHandler, m)}


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
        "mux/w/default/v1/responses",
        "mux/w/default/v1/responses/resp_1",
        "mux/w/default/v1/messages",
        "mux/w/default/v1/messages/count_tokens",
        "mux/w/default/v1/embeddings",
        "mux/w/default/v1/models",
        "mux/w/default/v1/models/tiny",
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
            for method in served_methods(handler):
                for headers in (
                    {},
                    {"Authorization": "token wrong"},
                    {"Authorization": "Bearer wrong"},
                ):
                    response = await http.request(
                        method.upper(), host + path, headers=headers, content=b"{}"
                    )
                    expected = 401 if issubclass(handler, MuxHandler) else 403
                    assert response.status_code == expected, (method, path, headers)
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


# The mux handlers recognise a plain token request themselves (handlers/base.py), skipping
# the login cookie and random user Jupyter makes for each one. These hold it to Jupyter's
# own answer for every request shape: the mux route must answer exactly as /api/status does.
TOKEN_CASES = {
    "right token": lambda t: ({"Authorization": f"token {t}"}, ""),
    "wrong token": lambda t: ({"Authorization": "token not-the-token"}, ""),
    "token prefix": lambda t: ({"Authorization": f"token {t[:-1]}"}, ""),
    "right header, wrong token argument": lambda t: (
        {"Authorization": f"token {t}"},
        "?token=wrong",
    ),
    "right header, junk cookie": lambda t: (
        {"Authorization": f"token {t}", "Cookie": "username-127-0-0-1=junk"},
        "",
    ),
    "no scheme": lambda t: ({"Authorization": t}, ""),
}


@pytest.mark.parametrize("case", TOKEN_CASES)
async def test_token_check_answers_as_jupyter_does(server_url, token, case):
    headers, query = TOKEN_CASES[case](token)
    async with httpx.AsyncClient() as http:
        jupyter = await http.get(f"{server_url}api/status{query}", headers=headers)
        mux = await http.get(f"{server_url}mux/api/active{query}", headers=headers)
    assert (mux.status_code == 200) == (jupyter.status_code == 200), (case, mux, jupyter)
    assert mux.status_code in (200, 403), mux.text
    assert ("right" in case and "wrong" not in case) == (mux.status_code == 200)


async def test_token_requests_get_no_login_cookie(server_url, token):
    """API clients send the token every time; a signed cookie in every answer is waste."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            server_url + "mux/api/active", headers={"Authorization": f"token {token}"}
        )
    assert answer.status_code == 200 and "set-cookie" not in answer.headers


class OnlyAlice(IdentityProvider):
    """A provider of Jupyter users that is not Jupyter's own (as JupyterHub's is): it knows
    nothing of the server token and accepts only `Authorization: alice`."""

    def get_user(self, handler: Any) -> User | None:
        return User("alice") if handler.request.headers.get("Authorization") == "alice" else None


class TestOtherIdentityProviders:
    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        return {
            **jp_server_config,
            "ServerApp": {**jp_server_config["ServerApp"], "identity_provider_class": OnlyAlice},
        }

    async def test_the_server_token_is_not_taken_for_the_provider(self, server_url, token):
        async with httpx.AsyncClient() as http:
            refused = await http.get(
                server_url + "mux/api/active", headers={"Authorization": f"token {token}"}
            )
            accepted = await http.get(
                server_url + "mux/api/active", headers={"Authorization": "alice"}
            )
        assert refused.status_code == 403
        assert accepted.status_code == 200 and accepted.json() == {"name": "default"}
