"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis), and bad input by hand.

The server is `python -m jupyter_mux` in its own process with fresh Jupyter directories, so
the blocking clients here never share an event loop with it. Generation is derandomized:
a failure reproduces run after run. No case can make the server reach past this machine:
every provider endpoint a case would save is pointed at a closed loopback port first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from jupyter_mux.openapi import HUB_ONLY, build_spec
from jupyter_mux.providers.registry import PROVIDER_TYPES

from .servers import ServerProcess, free_port

TOKEN = "fuzz-test-token"
AUTH = {"Authorization": f"token {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def mux_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m jupyter_mux` in its own process, SQLite store in a fresh data dir."""
    server = ServerProcess(
        tmp_path_factory.mktemp("fuzz-home"),
        "jupyter_mux",
        "--MuxApp.connect_timeout=2",
        "--MuxApp.discovery_timeout=3",
        token=TOKEN,
        ready_path="mux/api/providers",
    )
    with server:
        yield server.url
    # Every 5xx the server logged: printed so a failing run shows the tracebacks.
    if "Traceback" in server.log:
        print(server.log[-20000:])


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers.update(AUTH)
        # Token auth only: the login cookie the server hands out would turn requests that
        # lack the token into cookie-authenticated ones, refused for want of an XSRF token.
        s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        yield s


@pytest.fixture(scope="module")
def api_schema(mux_server: str) -> Any:
    return schemathesis.openapi.from_url(
        mux_server + "mux/api/openapi.json", headers=AUTH, timeout=30
    )


@pytest.fixture(scope="module")
def dead_endpoint() -> str:
    """A loopback port with nothing listening: discovery fails at once, nothing leaves."""
    return f"http://127.0.0.1:{free_port()}"


# -- the schema-driven fuzz ------------------------------------------------------------------

# (method, path) of every operation in the document, and how many cases each gets: more for
# those that take a body. The mux routes are in: with no provider that has models, they
# answer 400/404/409 at once, without an upstream. The Hub service's own routes are not
# this server's (they answer its JSON 404); tests/test_hub_policy.py drives them.
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in build_spec()["paths"].items()
    if not item.get(HUB_ONLY)
    for method in item
    if method in {"get", "put", "post", "patch", "delete"}
)


def _examples(method: str, path: str) -> int:
    if method in {"POST", "PUT", "PATCH"}:
        return 70
    return 25 if "{" in path else 10


TOTAL_EXAMPLES = sum(_examples(m, p) for m, p in OPERATIONS)
RAN: dict[str, int] = {}
STATUSES: dict[str, Counter[int]] = {}


def _keep_local(case: Any, dead_endpoint: str) -> None:
    """Point a provider a case would create or change at a closed loopback port. Endpoints
    that are not URLs with a host are left alone: the server must refuse them itself."""
    body = case.body
    if not isinstance(body, dict) or "/providers" not in case.path:
        return
    endpoint = body.get("endpoint")
    if isinstance(endpoint, str):
        try:
            host = urlsplit(endpoint.strip()).hostname
        except ValueError:
            return
        if host and host not in LOOPBACK:
            body["endpoint"] = dead_endpoint
    elif endpoint is None and case.method.upper() == "POST":
        # Left out, the type's default is used: api.openai.com and friends.
        body["endpoint"] = dead_endpoint


# Names that exist when each operation's fuzz starts (see _seed), so that cases reach past
# the 404 of an unknown name.
SEEDS = {"providers": ["p0", "p1"], "workspaces": ["default", "ws1"]}
TYPES = sorted(PROVIDER_TYPES)


def _seed(session: requests.Session, url: str, dead_endpoint: str) -> None:
    for name in SEEDS["providers"]:
        body = {"name": name, "type": "vllm", "endpoint": dead_endpoint}
        response = session.post(url + "mux/api/providers", data=json.dumps(body), timeout=30)
        assert response.status_code in (201, 409), response.text
    for name in SEEDS["workspaces"]:
        response = session.post(
            url + "mux/api/workspaces", data=json.dumps({"name": name}), timeout=30
        )
        assert response.status_code in (201, 409), response.text


def _steer(case: Any) -> None:
    """Send some positive cases to names that exist, and with a provider type the server
    knows: the document gives `type` as any string (not an enum), so generated ones are
    almost never valid. Deterministic, so runs stay reproducible."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    params = case.path_parameters or {}
    for key, value in list(params.items()):
        if isinstance(value, str) and len(value) % 2 == 0:
            pool = SEEDS["providers" if "/providers/" in case.path else "workspaces"]
            params[key] = pool[len(value) % len(pool)]
    body = case.body
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(kind, str) and kind not in PROVIDER_TYPES and len(kind) % 4:
        body["type"] = TYPES[len(kind) % len(TYPES)]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(method, path, mux_server, api_schema, session, dead_endpoint):
    _seed(session, mux_server, dead_endpoint)
    operation = api_schema[path][method]
    modes = [operation.as_strategy(GenerationMode.POSITIVE)]
    if method != "GET" or "{" in path or "parameters" in operation.definition.raw:
        modes.append(operation.as_strategy(GenerationMode.NEGATIVE))
    label = f"{method} {path}"
    RAN[label] = 0
    STATUSES[label] = Counter()

    @hypothesis.settings(
        max_examples=_examples(method, path),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        print_blob=True,
    )
    @given(case=st.one_of(modes))
    def run(case: Any) -> None:
        RAN[label] += 1
        _steer(case)
        _keep_local(case, dead_endpoint)
        response = case.call(session=session, headers=AUTH, timeout=30)
        STATUSES[label][response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_fuzz_covered_enough():
    """The fuzz above sent at least 1000 cases over the whole API (when it all ran)."""
    if len(RAN) < len(OPERATIONS):
        pytest.skip("not every fuzz test ran")
    assert len(OPERATIONS) >= 20
    assert TOTAL_EXAMPLES >= 1000
    assert sum(RAN.values()) >= 1000, RAN
    print({label: dict(counts) for label, counts in STATUSES.items()})
    # Not only refusals: valid cases got through to the store and the mux.
    answered = Counter(code // 100 for counts in STATUSES.values() for code in counts.elements())
    assert answered[2] >= 50 and answered[4] >= 100, answered


# -- bad input, by hand ----------------------------------------------------------------------


def _state(session: requests.Session, url: str) -> tuple[Any, Any, Any]:
    return tuple(
        session.get(url + f"mux/api/{path}", timeout=30).json()
        for path in ("providers", "workspaces", "active")
    )


@pytest.fixture
def unchanged(mux_server: str, session: requests.Session) -> Iterator[None]:
    """The store is the same after the test as before it."""
    before = _state(session, mux_server)
    yield
    assert _state(session, mux_server) == before


def _refused(response: requests.Response, *words: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    error = response.json()
    assert isinstance(error.get("message"), str) and error["message"], error
    for word in words:
        assert word in error["message"], error
    return error


ELEVEN_MB = 11 * 1024 * 1024

BODY_ROUTES = [
    ("POST", "providers"),
    ("PATCH", "providers/p0"),
    ("POST", "workspaces"),
    ("PATCH", "workspaces/default"),
    ("PUT", "workspaces/default/rules"),
    ("POST", "workspaces/import"),
    ("PUT", "active"),
]


@pytest.mark.parametrize(("method", "route"), BODY_ROUTES)
def test_oversized_body_is_refused(method, route, mux_server, session, unchanged):
    big = {"name": "big", "type": "vllm", "description": "x" * ELEVEN_MB}
    if route.endswith("rules"):
        big = [{"kind": "catch_all", "pattern": "x" * ELEVEN_MB}]
    data = json.dumps(big).encode()
    assert len(data) > ELEVEN_MB
    response = session.request(method, mux_server + "mux/api/" + route, data=data, timeout=60)
    _refused(response)


@pytest.mark.parametrize(("method", "route"), BODY_ROUTES)
def test_deeply_nested_json_is_refused(method, route, mux_server, session, unchanged):
    """Nesting deeper than Python's recursion limit: a 400 like any bad JSON, not a 500."""
    data = "[" * 100_000 + "]" * 100_000
    response = session.request(method, mux_server + "mux/api/" + route, data=data, timeout=60)
    _refused(response, "JSON")


@pytest.mark.parametrize(
    "route", ["mux/v1/chat/completions", "mux/v1/completions", "mux/w/default/v1/completions"]
)
def test_deeply_nested_json_is_refused_by_the_mux(route, mux_server, session):
    data = '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = session.post(mux_server + route, data=data, timeout=60)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.json()["error"]["code"] == "invalid_json"


WRONG_TYPES = [
    ("POST", "providers", {"name": 5, "type": "vllm"}, "name"),
    ("POST", "providers", {"name": None, "type": "vllm"}, "name"),
    ("POST", "providers", {"name": ["a"], "type": "vllm"}, "name"),
    ("POST", "providers", {"name": "ok", "type": ["vllm"]}, "type"),
    ("POST", "providers", {"name": "ok", "type": "vllm", "endpoint": 8080}, "endpoint"),
    ("POST", "providers", {"name": "ok", "type": "vllm", "description": {}}, "description"),
    ("POST", "providers", {"name": "ok", "type": "openai", "api_key": 123}, "api_key"),
    ("POST", "providers", {"name": "ok", "type": "vllm", "auth_type": True}, "auth_type"),
    ("POST", "providers", "a string", "object"),
    ("POST", "providers", 42, "object"),
    ("POST", "providers", None, "object"),
    ("POST", "workspaces", {"name": 1.5}, "name"),
    ("POST", "workspaces", {"name": "w", "preferred": "p/m"}, "preferred"),
    ("POST", "workspaces", {"name": "w", "preferred": ["p", "m"]}, "preferred"),
    ("POST", "workspaces", {"name": "w", "preferred": {"provider": 1, "model": "m"}}, "provider"),
    ("POST", "workspaces", {"name": "w", "description": False}, "description"),
    ("PATCH", "workspaces/default", {"name": True}, "name"),
    ("PATCH", "workspaces/default", {"description": 7}, "description"),
    ("PUT", "active", {"name": 0}, "name"),
    ("PUT", "active", ["default"], "object"),
    ("PUT", "workspaces/default/rules", {"kind": "catch_all"}, "array"),
    ("PUT", "workspaces/default/rules", [{"kind": 1}], "kind"),
    ("PUT", "workspaces/default/rules", [{"kind": "catch_all", "targets": "x"}], "targets"),
    ("POST", "workspaces/import", {"name": "w", "rules": "x"}, "rules"),
    ("POST", "workspaces/import", {"name": "w", "rules": [], "format": 1}, "format"),
]


@pytest.mark.parametrize(
    ("method", "route", "body", "word"), WRONG_TYPES, ids=[str(i) for i in range(len(WRONG_TYPES))]
)
def test_wrong_types_are_refused(method, route, body, word, mux_server, session, unchanged):
    response = session.request(
        method, mux_server + "mux/api/" + route, data=json.dumps(body), timeout=30
    )
    assert response.status_code == 400, (response.status_code, response.text[:300])
    _refused(response, word)


BAD_NAMES = [
    "../etc",
    "..",
    "a/b",
    "a%2Fb",
    "a\\b",
    "w\u202e",
    "\u202ew",
    "a\x00b",
    "a\nb",
    "a\tb",
    "a b",
    " a",
    "-a",
    ".hidden",
    "é",
    "ｗ",  # noqa: RUF001 - a fullwidth letter, on purpose
    "w\u200b",
    "😀",
    "x" * 65,
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
@pytest.mark.parametrize(
    ("method", "route", "make"),
    [
        ("POST", "providers", lambda n: {"name": n, "type": "vllm"}),
        ("POST", "workspaces", lambda n: {"name": n}),
        ("PATCH", "workspaces/default", lambda n: {"name": n}),
        ("PUT", "active", lambda n: {"name": n}),
        ("POST", "workspaces/import", lambda n: {"name": n, "rules": [{"kind": "catch_all"}]}),
    ],
    ids=["create-provider", "create-workspace", "rename-workspace", "activate", "import"],
)
def test_bad_names_are_refused(method, route, make, name, mux_server, session, unchanged):
    response = session.request(
        method, mux_server + "mux/api/" + route, data=json.dumps(make(name)), timeout=30
    )
    assert response.status_code == 400, (response.status_code, response.text[:300])
    _refused(response, "name")


def test_reserved_workspace_name(mux_server, session, unchanged):
    response = session.post(
        mux_server + "mux/api/workspaces", data=json.dumps({"name": "import"}), timeout=30
    )
    _refused(response, "reserved")


PATH_TRICKS = [
    "..",
    "%2e%2e",
    "..%2F..%2Fapi%2Fproviders",
    "a%2Fb",
    "%2F",
    "%E2%80%AEw",
    "%00",
    "a%0Ab",
    "%C0%AE%C0%AE",  # overlong '..'
    "%FF",
    "default%20",
    "x" * 300,
]


@pytest.mark.parametrize("segment", PATH_TRICKS)
@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("GET", "workspaces/{}", None),
        ("PATCH", "workspaces/{}", {"description": "changed"}),
        ("DELETE", "workspaces/{}", None),
        ("PUT", "workspaces/{}/rules", [{"kind": "catch_all"}]),
        ("GET", "workspaces/{}/export", None),
        ("GET", "providers/{}", None),
        ("PATCH", "providers/{}", {"description": "changed"}),
        ("DELETE", "providers/{}", None),
        ("POST", "providers/{}/refresh", None),
        ("GET", "providers/{}/models", None),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_path_tricks_find_nothing(method, template, body, segment, mux_server, session, unchanged):
    url = mux_server + "mux/api/" + template.format(segment)
    response = session.request(
        method, url, data=None if body is None else json.dumps(body), timeout=30
    )
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text[:300])
    if response.headers.get("Content-Type", "").startswith("application/json"):
        assert response.json().get("message"), response.text[:300]


@pytest.mark.parametrize("segment", ["..", "%2e%2e", "a%2Fb", "%E2%80%AE", "%00"])
def test_path_tricks_in_the_pinned_mux_url(segment, mux_server, session):
    response = session.post(
        mux_server + f"mux/w/{segment}/v1/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
        timeout=30,
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


@pytest.mark.parametrize("value", ["..", "a/b", "w\u202e", "a\x00b", "é", "nope"])
def test_bad_workspace_header(value, mux_server, session):
    """X-Mux-Workspace naming nothing valid: a 4xx saying so (the header may also be refused
    by the HTTP layer for characters a header cannot carry)."""
    try:
        response = session.post(
            mux_server + "mux/v1/chat/completions",
            data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
            headers={"X-Mux-Workspace": value.encode("utf-8")},
            timeout=30,
        )
    except (requests.exceptions.InvalidHeader, ValueError):
        return  # the client will not send it: nothing reached the server
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def test_no_token_no_access(mux_server):
    for method, route in (("GET", "providers"), ("POST", "workspaces"), ("GET", "openapi.json")):
        response = requests.request(method, mux_server + "mux/api/" + route, timeout=30)
        assert response.status_code == 403, (method, route, response.status_code)
    response = requests.get(
        mux_server + "mux/api/providers", headers={"Authorization": "token wrong"}, timeout=30
    )
    assert response.status_code == 403


# -- what the attack of issue 13 sent --------------------------------------------------------

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def seeded(mux_server: str, session: requests.Session, dead_endpoint: str) -> None:
    """The seed providers exist (`p0` is patched below) before `unchanged` looks."""
    _seed(session, mux_server, dead_endpoint)


ISSUE_13 = [
    *(
        ("POST", "mux/api/providers", {"name": "t", "type": "vllm", "endpoint": e}, 400)
        for e in (
            "http://127.0.0.1:9/o\tk",
            "http://127.0.0.1:9/o\r\nk",
            "http://127.0.0.1:9/o\x7fk",
            "http://[v1.x]:9",
            "http://a..b:9",
        )
    ),
    ("PATCH", "mux/api/providers/p0", {"endpoint": "http://127.0.0.1:9/o\tk"}, 400),
    ("POST", "mux/v1/chat/completions", {**CHAT, "stream_options": "x"}, 400),
    ("POST", "mux/v1/chat/completions", {**CHAT, "stream": True, "stream_options": [1]}, 400),
    ("POST", "mux/v1/completions", {"prompt": "x", "stream_options": {"include_usage": 1}}, 400),
    ("GET", "mux/api/usage?since=2026-11-01", None, 200),
    ("GET", "mux/api/usage?since=2026-11-01T10:00&until=2026-12-01", None, 200),
    ("GET", "mux/api/usage?until=9999-12-31T23:00:00-05:00", None, 400),
    ("GET", "mux/api/usage?since=0001-01-01T00:00:00%2B01:00", None, 400),
    ("GET", f"mux/api/usage?token={TOKEN}&group_by=day", None, 200),
]


@pytest.mark.parametrize(
    ("method", "route", "body", "status"), ISSUE_13, ids=[str(i) for i in range(len(ISSUE_13))]
)
def test_issue_13_inputs(method, route, body, status, mux_server, session, seeded, unchanged):
    """Each answered as documented (never a 5xx), and nothing stored changed."""
    response = session.request(
        method,
        mux_server + route,
        data=None if body is None else json.dumps(body),
        timeout=30,
    )
    assert response.status_code == status, (response.status_code, response.text[:300])
