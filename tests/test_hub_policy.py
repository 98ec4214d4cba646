"""The Hub service's admin policy under a real JupyterHub: budgets that hold (429 in every
dialect, streams counted, a new period restoring access, two replicas counting once),
allowed models, own providers per group, and the admin's API and usage across users.

One Hub for the module (as tests/test_hub_service.py starts it), with group `staff`
(alice) and the service's policies in its configuration file:
- everybody: 1 USD a day, only `ollama/llama3.2:1b`, no own providers;
- staff: 1,000 USD a day each, 10,000 a month together, every model, own providers;
- carol: 0.01 USD a day, which one request spends.
The database is PostgreSQL when JUPYTER_MUX_TEST_PG_URL is set (the replica test needs it),
else SQLite. Prices are set by the admin over the API: 10,000 USD per million tokens, so
every token costs a cent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from .fake_ollama import FakeOllama
from .pg import PG_URL, Databases
from .servers import free_port
from .test_hub_service import (
    ALICE_MODEL,
    BOB_MODEL,
    START_TIMEOUT,
    Hub,
    api,
    running_hub,
)

pytest.importorskip("jupyterhub", reason="the Hub service needs jupyterhub (the hub extra)")
pytestmark = pytest.mark.skipif(
    __import__("shutil").which("configurable-http-proxy") is None,
    reason="configurable-http-proxy is not on PATH: npm install -g configurable-http-proxy",
)

PRICE = {"prompt_per_million": 10_000, "completion_per_million": 10_000}
POLICIES = {
    "default": {"usd_per_day": 1.0, "allowed_models": [f"ollama/{ALICE_MODEL}"]},
    "groups": {
        "staff": {
            "usd_per_day": 1000.0,
            "group_usd_per_month": 10000.0,
            "allowed_models": ["*"],
            "user_providers": True,
        }
    },
    "users": {"carol": {"usd_per_day": 0.01}},
}
CHAT = {"model": "x", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, str, dict]]:
    tmp = tmp_path_factory.mktemp("policy")
    databases = Databases() if PG_URL else None
    db_url = databases.create("hub") if databases else f"sqlite:///{tmp / 'mux' / 'mux.sqlite'}"

    def write_config(path: Path, _db: Path, key: str, endpoint: str) -> None:
        path.write_text(
            f"""
c.MuxApp.db_url = {db_url!r}
c.MuxApp.encryption_key = {key!r}
c.MuxApp.sync_interval = 0.5
c.MuxApp.providers = [{{"name": "ollama", "type": "ollama", "endpoint": {endpoint!r}}}]
c.HubServiceApp.policies = {POLICIES!r}
"""
        )

    groups = '\nc.JupyterHub.load_groups = {"staff": {"users": ["alice"]}}\n'
    try:
        with (
            FakeOllama() as upstream,
            running_hub(tmp, upstream, write_config, groups) as (hub, ports),
        ):
            yield hub, db_url, ports
    finally:
        if databases:
            databases.drop_all()


@pytest.fixture(scope="module")
def hub(policed: tuple[Hub, str, dict]) -> Hub:
    return policed[0]


def prepare_users(hub: Hub, models: dict[str, str]) -> dict[str, str]:
    """Tokens of alice, bob, carol and admin; the admin's prices on the shared provider;
    each user in `models` with their default workspace on that model."""
    tokens = {user: hub.token_for(user) for user in ("alice", "bob", "carol", "admin")}
    for model in (ALICE_MODEL, BOB_MODEL):
        priced = api(
            hub,
            tokens["admin"],
            "PUT",
            "mux/api/admin/providers/ollama/prices",
            json={"model": model, **PRICE},
        )
        assert priced.status_code == 200, priced.text
    for user, model in models.items():
        preferred = {"preferred": {"provider": "ollama", "model": model}}
        answer = api(hub, tokens[user], "PATCH", "mux/api/workspaces/default", json=preferred)
        assert answer.status_code == 200, answer.text
    return tokens


@pytest.fixture(scope="module")
def users(hub: Hub) -> dict[str, str]:
    """bob's default model is one his policy does not allow (the allowed-models test)."""
    return prepare_users(hub, {"alice": BOB_MODEL, "bob": BOB_MODEL, "carol": ALICE_MODEL})


def today() -> Any:
    """Budgets' days are UTC days."""
    return datetime.now(timezone.utc).date()


def me(hub: Hub, token: str) -> dict[str, Any]:
    answer = api(hub, token, "GET", "mux/api/me")
    assert answer.status_code == 200, answer.text
    return answer.json()


def settled(hub: Hub, token: str) -> dict[str, Any]:
    """The user's budgets once nothing is held (spends are settled once a second)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        found = me(hub, token)
        if all(b["held_usd"] == 0 for b in found["budgets"]):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


def usage_of(hub: Hub, token: str, requests: int) -> dict[str, Any]:
    """The user's usage totals once at least `requests` are written (once a second)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        totals = api(hub, token, "GET", "mux/api/usage").json()["totals"]
        if totals["requests"] >= requests:
            return totals
        assert time.monotonic() < deadline, totals
        time.sleep(0.2)


def day_spent(found: dict[str, Any], user: str) -> float:
    return next(
        b["spent_usd"] for b in found["budgets"] if b["budget"] == f"user {user} usd_per_day"
    )


def consistent(hub: Hub, token: str, user: str, requests: int = 0) -> tuple[float, dict]:
    """The user's day budget spend and usage totals once both have caught up (holds
    settled, usage rows written: each within a second or so of a request's end) and agree,
    with at least `requests` rows written. Every request is counted in both exactly once,
    so they meet; a request counted twice or lost on either side never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        usage = usage_of(hub, token, requests)
        spent = day_spent(settled(hub, token), user)
        if spent == pytest.approx(usage["cost"], abs=1e-5):
            return spent, usage
        assert time.monotonic() < deadline, (spent, usage)
        time.sleep(0.2)


def _requests(hub: Hub) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """One request per dialect, streamed where the dialect streams."""
    prompt = [{"role": "user", "content": "hello there"}]
    anthropic = {"anthropic-version": "2023-06-01"}
    return [
        ("mux/v1/chat/completions", {**CHAT}, {}),
        ("mux/v1/chat/completions", {**CHAT, "stream": True}, {}),
        ("mux/v1/responses", {"model": "x", "input": "hello there", "stream": True}, {}),
        ("mux/v1/responses", {"model": "x", "input": "hello there"}, {}),
        ("mux/v1/messages", {"model": "x", "max_tokens": 32, "messages": prompt}, anthropic),
        (
            "mux/v1/messages",
            {"model": "x", "max_tokens": 32, "messages": prompt, "stream": True},
            anthropic,
        ),
    ]


def test_a_user_sees_their_policy_and_budgets(hub: Hub, users: dict[str, str]) -> None:
    alice = me(hub, users["alice"])
    assert alice["groups"] == ["staff"] and not alice["admin"]
    assert alice["policy"] == {
        "usd_per_day": 1000.0,
        "usd_per_month": None,
        "allowed_models": ["*"],
        "user_providers": True,
    }
    labels = sorted(b["budget"] for b in alice["budgets"])
    assert labels == ["group staff usd_per_month", "user alice usd_per_day"]
    bob = me(hub, users["bob"])
    assert bob["groups"] == [] and bob["policy"]["allowed_models"] == [f"ollama/{ALICE_MODEL}"]
    assert [b["budget"] for b in bob["budgets"]] == ["user bob usd_per_day"]
    assert me(hub, users["admin"])["admin"] is True


def test_only_allowed_models_serve_and_are_listed(hub: Hub, users: dict[str, str]) -> None:
    bob, alice = users["bob"], users["alice"]
    refused = api(hub, bob, "POST", "mux/v1/chat/completions", json=CHAT)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "model_not_allowed"
    assert f"ollama/{BOB_MODEL}" in error["message"] and ALICE_MODEL in error["message"]
    listed = api(hub, bob, "GET", "mux/v1/models").json()["data"]
    assert [m["id"] for m in listed] == [] or all(BOB_MODEL not in m["id"] for m in listed)
    # A rule with a fallback the policy allows serves from it.
    rules = [
        {
            "kind": "catch_all",
            "targets": [
                {"provider": "ollama", "model": BOB_MODEL},
                {"provider": "ollama", "model": ALICE_MODEL},
            ],
        }
    ]
    assert api(hub, bob, "PUT", "mux/api/workspaces/default/rules", json=rules).status_code == 200
    try:
        served = api(hub, bob, "POST", "mux/v1/chat/completions", json=CHAT)
        assert served.status_code == 200, served.text
        assert served.headers["X-Mux-Model"] == ALICE_MODEL
        listed = api(hub, bob, "GET", "mux/v1/models").json()["data"]
        assert {m["id"] for m in listed} >= {ALICE_MODEL} and BOB_MODEL not in {
            m["id"] for m in listed
        }
    finally:
        rules[0]["targets"] = rules[0]["targets"][:1]
        api(hub, bob, "PUT", "mux/api/workspaces/default/rules", json=rules)
    # Staff may use every model.
    assert api(hub, alice, "POST", "mux/v1/chat/completions", json=CHAT).status_code == 200


def test_own_providers_follow_the_group_policy(hub: Hub, users: dict[str, str]) -> None:
    provider = {"name": "mine", "type": "ollama", "endpoint": hub.upstream.endpoint}
    refused = api(hub, users["bob"], "POST", "mux/api/providers", json=provider)
    assert refused.status_code == 403 and "administrator" in refused.json()["message"]
    made = api(hub, users["alice"], "POST", "mux/api/providers", json=provider)
    assert made.status_code == 201, made.text
    assert api(hub, users["alice"], "DELETE", "mux/api/providers/mine").status_code == 204


def test_a_spent_budget_answers_429_in_every_dialect_until_the_next_period(
    policed: tuple[Hub, str, dict], users: dict[str, str]
) -> None:
    hub, db_url, _ = policed
    carol = users["carol"]
    first = api(hub, carol, "POST", "mux/v1/chat/completions", json=CHAT)
    assert first.status_code == 200, first.text
    spent = settled(hub, carol)["budgets"][0]
    assert spent["budget"] == "user carol usd_per_day" and spent["spent_usd"] >= 0.01
    for path, body, headers in _requests(hub):
        refused = api(hub, carol, "POST", path, json=body, headers=headers)
        assert refused.status_code == 429, (path, refused.text)
        assert int(refused.headers["Retry-After"]) > 0
        answer = refused.json()
        if "messages" in path:
            assert answer["type"] == "error" and answer["error"]["type"] == "rate_limit_error"
            message = answer["error"]["message"]
        else:
            assert answer["error"]["code"] == "budget_exceeded"
            message = answer["error"]["message"]
        tomorrow = (today() + timedelta(days=1)).isoformat()
        assert "user carol usd_per_day" in message and f"resets at {tomorrow}" in message
    # The SDKs see it as their rate-limit error.
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=hub.mux_v1, api_key=carol, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**CHAT)
    assert caught.value.code == "budget_exceeded"
    # The day passes: carol's counter for today becomes yesterday's.
    engine = create_engine(db_url)
    with engine.begin() as conn:
        yesterday = (today() - timedelta(days=1)).isoformat()
        moved = conn.execute(
            text("UPDATE mux_budget SET period = :y WHERE scope = 'user:carol' AND period = :t"),
            {"y": yesterday, "t": today().isoformat()},
        )
        assert moved.rowcount == 1
    engine.dispose()
    again = api(hub, carol, "POST", "mux/v1/chat/completions", json=CHAT)
    assert again.status_code == 200, again.text


def test_every_dialect_and_stream_is_counted_once(hub: Hub, users: dict[str, str]) -> None:
    """alice's budget spend equals her usage's cost, request for request, streams included."""
    alice = users["alice"]
    spent_before, usage_before = consistent(hub, alice, "alice")
    group_before = settled(hub, alice)
    for path, body, headers in _requests(hub):
        with httpx.stream(
            "POST",
            hub.service_url + path,
            json=body,
            headers={"Authorization": f"token {alice}", **headers},
            timeout=30,
        ) as answer:
            assert answer.status_code == 200, (path, answer.read())
            answer.read()
    wanted = usage_before["requests"] + len(_requests(hub))
    spent_after, usage_after = consistent(hub, alice, "alice", wanted)
    assert usage_after["requests"] == wanted
    grew = spent_after - spent_before
    assert grew > 0 and grew == pytest.approx(usage_after["cost"] - usage_before["cost"], abs=1e-5)
    # The group's month grew by the same spend: each request counted on both budgets.
    group_after = settled(hub, alice)
    month = "group staff usd_per_month"
    spent = {b["budget"]: b["spent_usd"] for b in group_after["budgets"]}
    was = {b["budget"]: b["spent_usd"] for b in group_before["budgets"]}
    assert spent[month] - was[month] == pytest.approx(grew, abs=1e-5)


def test_the_admin_api_is_for_admins(hub: Hub, users: dict[str, str]) -> None:
    admin, bob = users["admin"], users["bob"]
    for method, path, body in (
        ("GET", "mux/api/admin/policies", None),
        ("PUT", "mux/api/admin/policies/users/bob", {"usd_per_day": 5}),
        ("GET", "mux/api/admin/usage", None),
        ("GET", "mux/api/admin/members", None),
        ("PUT", "mux/api/admin/providers/ollama/prices", {"model": ALICE_MODEL, **PRICE}),
    ):
        refused = api(hub, bob, method, path, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert "admins" in refused.json()["message"]
    policies = api(hub, admin, "GET", "mux/api/admin/policies").json()
    assert {(p["scope"], p["name"], p["source"]) for p in policies} == {
        ("default", None, "config"),
        ("group", "staff", "config"),
        ("user", "carol", "config"),
    }
    # The configuration's policies are read-only here; others come and go.
    config = api(hub, admin, "PUT", "mux/api/admin/policies/users/carol", json={})
    assert config.status_code == 409 and "configuration" in config.json()["message"]
    wrong = api(hub, admin, "PUT", "mux/api/admin/policies/users/bob", json={"usd_per_day": -1})
    assert wrong.status_code == 400
    pooled = api(
        hub, admin, "PUT", "mux/api/admin/policies/users/bob", json={"group_usd_per_day": 1}
    )
    assert pooled.status_code == 400 and "group" in pooled.json()["message"]
    made = api(
        hub,
        admin,
        "PUT",
        "mux/api/admin/policies/users/bob",
        json={"allowed_models": ["ollama/*"], "usd_per_day": 2},
    )
    assert made.status_code == 200, made.text
    assert made.json()["source"] == "api"
    try:
        assert me(hub, bob)["policy"]["allowed_models"] == ["ollama/*"]
        answer = api(hub, bob, "POST", "mux/v1/chat/completions", json=CHAT)
        assert answer.status_code == 200, answer.text
    finally:
        gone = api(hub, admin, "DELETE", "mux/api/admin/policies/users/bob")
        assert gone.status_code == 204
    assert api(hub, bob, "POST", "mux/v1/chat/completions", json=CHAT).status_code == 403
    missing = api(hub, admin, "DELETE", "mux/api/admin/policies/users/bob")
    assert missing.status_code == 404


def test_the_admin_sees_usage_per_user_and_group(hub: Hub, users: dict[str, str]) -> None:
    admin = users["admin"]
    for user in ("alice", "carol"):
        token = users[user]
        before = api(hub, token, "GET", "mux/api/usage").json()["totals"]["requests"]
        # An earlier test may have spent this user's budget: a refusal writes no usage row.
        answered = api(hub, token, "POST", "mux/v1/chat/completions", json=CHAT)
        assert answered.status_code in (200, 429), answered.text
        usage_of(hub, token, before + (answered.status_code == 200))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        # Usage rows are written once a second, so a report by user and one by group agree
        # only between two writes: read by user on both sides of the one by group.
        by_user = api(hub, admin, "GET", "mux/api/admin/usage", params={"group_by": "user"})
        assert by_user.status_code == 200, by_user.text
        by_group = api(hub, admin, "GET", "mux/api/admin/usage", params={"group_by": "group"})
        again = api(hub, admin, "GET", "mux/api/admin/usage", params={"group_by": "user"})
        rows = {r["key"]: r for r in by_user.json()["rows"]}
        if {"alice", "carol"} <= set(rows) and again.json() == by_user.json():
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
    by_group = by_group.json()
    assert rows["alice"]["cost"] > 0
    groups = {r["key"]: r for r in by_group["rows"]}
    assert groups["staff"]["requests"] == rows["alice"]["requests"]
    assert groups["(no group)"]["requests"] == sum(
        r["requests"] for k, r in rows.items() if k != "alice"
    )
    assert by_group["totals"]["requests"] == by_user.json()["totals"]["requests"]
    only = api(hub, admin, "GET", "mux/api/admin/usage", params={"group": "staff"}).json()
    assert [r["key"] for r in only["rows"]] == ["alice"]
    bad = api(hub, admin, "GET", "mux/api/admin/usage", params={"group_by": "nope"})
    assert bad.status_code == 400
    members = {m["name"]: m for m in api(hub, admin, "GET", "mux/api/admin/members").json()}
    assert members["alice"]["groups"] == ["staff"] and members["admin"]["admin"]
    # A user sees only their own usage.
    own = api(hub, users["carol"], "GET", "mux/api/usage").json()
    assert own["totals"]["requests"] == rows["carol"]["requests"]


@pytest.mark.skipif(not PG_URL, reason="replicas share PostgreSQL")
def test_two_replicas_serving_parallel_streams_count_the_spend_once(
    policed: tuple[Hub, str, dict], users: dict[str, str]
) -> None:
    """A second service process, as a Kubernetes Deployment's second pod runs it (the same
    environment, another address), on the same database: alice's parallel streams through
    both are each counted once against her budgets."""
    hub = policed[0]
    environ_file = Path(f"/proc/{hub.service_pid()}/environ")
    if not environ_file.exists():
        pytest.skip("reads the managed service's environment from /proc")
    env = dict(
        item.split("=", 1) for item in environ_file.read_bytes().decode().split("\0") if "=" in item
    )
    port = free_port()
    env["JUPYTERHUB_SERVICE_URL"] = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "jupyter_mux", "hub-service", f"--config={hub.service_config}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = hub.service_config.parent / "replica.log"
    with log.open("wb") as out:
        replica = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    alice = users["alice"]
    second = f"http://127.0.0.1:{port}/services/mux/"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                ok = httpx.get(
                    second + "mux/v1/models", headers={"Authorization": f"token {alice}"}
                ).status_code
            except httpx.HTTPError:
                ok = 0
            if ok == 200:
                break
            assert replica.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        spent_before, usage_before = consistent(hub, alice, "alice")

        def stream(n: int) -> int:
            base = hub.service_url if n % 2 else second
            with httpx.stream(
                "POST",
                base + "mux/v1/chat/completions",
                json={**CHAT, "stream": True},
                headers={"Authorization": f"token {alice}"},
                timeout=60,
            ) as answer:
                answer.read()
                return answer.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(stream, range(16)))
        assert statuses == [200] * 16
        # Both replicas' usage rows and settles land within a second or so, and agree.
        wanted = usage_before["requests"] + 16
        spent_after, usage = consistent(hub, alice, "alice", wanted)
        assert usage["requests"] == wanted
        grew = spent_after - spent_before
        assert grew > 0 and grew == pytest.approx(usage["cost"] - usage_before["cost"], abs=1e-4)
    finally:
        replica.terminate()
        replica.wait(30)


def test_shared_workspaces_are_everybodys_to_use_and_the_admins_to_change(
    hub: Hub, users: dict[str, str]
) -> None:
    admin, bob = users["admin"], users["bob"]
    shared = {"name": "cheap", "preferred": {"provider": "ollama", "model": ALICE_MODEL}}
    made = api(hub, admin, "POST", "mux/api/admin/workspaces", json=shared)
    assert made.status_code == 201, made.text
    assert api(hub, bob, "POST", "mux/api/admin/workspaces", json=shared).status_code == 403
    try:
        listed = {w["name"]: w for w in api(hub, bob, "GET", "mux/api/workspaces").json()}
        assert listed["cheap"]["shared"] and not listed["default"]["shared"]
        # bob switches models by activating it, as with his own workspaces.
        assert api(hub, bob, "PUT", "mux/api/active", json={"name": "cheap"}).status_code == 200
        answer = api(hub, bob, "POST", "mux/v1/chat/completions", json=CHAT)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Mux-Workspace"] == "cheap"
        assert answer.headers["X-Mux-Model"] == ALICE_MODEL
        for method, path, body in (
            ("PATCH", "mux/api/workspaces/cheap", {"description": "mine now"}),
            ("PUT", "mux/api/workspaces/cheap/rules", [{"kind": "catch_all", "targets": []}]),
            ("DELETE", "mux/api/workspaces/cheap", None),
        ):
            refused = api(hub, bob, method, path, json=body)
            assert refused.status_code == 403, (path, refused.text)
            assert "shared by the Hub's admin" in refused.json()["message"]
        # The admin's change reaches bob's routing at once.
        moved = api(
            hub,
            admin,
            "PATCH",
            "mux/api/admin/workspaces/cheap",
            json={"preferred": {"provider": "ollama", "model": BOB_MODEL}},
        )
        assert moved.status_code == 200, moved.text
        refused = api(hub, bob, "POST", "mux/v1/chat/completions", json=CHAT)
        assert refused.status_code == 403  # bob's policy allows only ALICE_MODEL
        assert refused.json()["error"]["code"] == "model_not_allowed"
    finally:
        gone = api(hub, admin, "DELETE", "mux/api/admin/workspaces/cheap")
        assert gone.status_code == 204, gone.text
    # Deleted while bob had it active: bob is back on his default.
    assert api(hub, bob, "GET", "mux/api/active").json()["name"] == "default"
    assert "cheap" not in {w["name"] for w in api(hub, bob, "GET", "mux/api/workspaces").json()}


def test_a_users_mux_key_works_under_their_policy_and_reaches_only_the_mux(
    hub: Hub, users: dict[str, str]
) -> None:
    """A scoped mux key made by a user through the service authenticates the mux routes as
    that user (their workspace pin, their policy and budgets, its own budget), nothing else,
    and stops at revocation."""
    alice = users["alice"]
    made = api(
        hub,
        alice,
        "POST",
        "mux/api/keys",
        json={"name": "agent", "workspace": "default", "budget_usd": 1000},
    )
    assert made.status_code == 201, made.text
    key = made.json()
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=hub.mux_v1, api_key=key["secret"], max_retries=0)
    answer = client.chat.completions.create(**CHAT)
    assert BOB_MODEL in answer.choices[0].message.content  # alice's default: staff may
    anthropic = pytest.importorskip("anthropic")
    message = anthropic.Anthropic(
        base_url=hub.service_url + "mux", api_key=key["secret"], max_retries=0
    ).messages.create(model="x", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert BOB_MODEL in message.content[0].text
    # Pinned: another workspace is refused.
    pinned = api(hub, key["secret"], "POST", "mux/w/other/v1/chat/completions", json=CHAT)
    assert pinned.status_code == 403, pinned.text
    # Nothing but the mux: not the management API, not the admin API, not the service's page.
    for path in ("mux/api/workspaces", "mux/api/keys", "mux/api/me", "mux/api/admin/usage"):
        assert api(hub, key["secret"], "GET", path).status_code in (401, 403), path
    # Its spend counts for the key and for alice's budgets alike.
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        listed = {k["id"]: k for k in api(hub, alice, "GET", "mux/api/keys").json()}
        if listed[key["id"]]["spent_usd"] > 0 and listed[key["id"]]["last_used_at"]:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.2)
    settled(hub, alice)
    revoked = api(hub, alice, "DELETE", f"mux/api/keys/{key['id']}")
    assert revoked.status_code == 204
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(**CHAT)


def test_the_admin_shares_providers_over_the_api_and_only_the_admin_changes_them(
    hub: Hub, users: dict[str, str]
) -> None:
    admin, alice, bob = users["admin"], users["alice"], users["bob"]
    team = {"name": "team", "type": "ollama", "endpoint": hub.upstream.endpoint}
    assert api(hub, bob, "POST", "mux/api/admin/providers", json=team).status_code == 403
    made = api(hub, admin, "POST", "mux/api/admin/providers", json=team)
    assert made.status_code == 201, made.text
    assert made.json()["predefined"] and made.json()["models"]
    try:
        listed = {p["name"]: p for p in api(hub, bob, "GET", "mux/api/providers").json()}
        assert listed["team"]["predefined"]  # every user's, read-only to them
        refused = api(hub, bob, "PATCH", "mux/api/providers/team", json={"description": "x"})
        assert refused.status_code == 403 and "shared" in refused.json()["message"]
        workspace = {"name": "via-team", "preferred": {"provider": "team", "model": BOB_MODEL}}
        assert api(hub, alice, "POST", "mux/api/workspaces", json=workspace).status_code == 201
        served = api(hub, alice, "POST", "mux/w/via-team/v1/chat/completions", json=CHAT)
        assert served.status_code == 200, served.text
        assert served.headers["X-Mux-Provider"] == "team"
        changed = api(
            hub, admin, "PATCH", "mux/api/admin/providers/team", json={"description": "ours"}
        )
        assert changed.status_code == 200, changed.text
        seen = api(hub, bob, "GET", "mux/api/providers/team").json()
        assert seen["description"] == "ours"
        # The configuration's provider stays the configuration's.
        configured = api(
            hub, admin, "PATCH", "mux/api/admin/providers/ollama", json={"description": "x"}
        )
        assert configured.status_code == 403
    finally:
        api(hub, alice, "DELETE", "mux/api/workspaces/via-team")
        gone = api(hub, admin, "DELETE", "mux/api/admin/providers/team")
        assert gone.status_code == 204, gone.text
    assert "team" not in {p["name"] for p in api(hub, bob, "GET", "mux/api/providers").json()}
