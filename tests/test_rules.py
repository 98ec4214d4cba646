"""Routing rules, fallbacks, and sharing a workspace (API.md section 3)."""

from __future__ import annotations

import json

import httpx
import pytest

from jupyter_mux.errors import NoUsableModel
from jupyter_mux.openai_request import mentioned_files, parse_request
from jupyter_mux.routing import Rule, Target, WorkspaceRoute

from .conftest import MESSAGES, client, data_events, mux_chat
from .recording_upstream import RecordingUpstream

UP = object()  # stands in for an Upstream: matching only checks that one exists


def rule(kind, pattern=None, name="t"):
    return Rule(kind, pattern, (Target("p", name, UP),))


def chat(model="gpt-4o", content="hi", suffix=None):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if suffix is not None:
        body["suffix"] = suffix
    return parse_request("chat/completions", json.dumps(body).encode())


def fim(prompt="def f(", suffix=None):
    body = {"model": "m", "prompt": prompt}
    if suffix is not None:
        body["suffix"] = suffix
    return parse_request("completions", json.dumps(body).encode())


WORKSPACE = WorkspaceRoute(
    "w",
    (
        rule("request_type", "fim", "fim-model"),
        rule("model", "fast*", "fast-model"),
        rule("filename", "*.ipynb", "notebook-model"),
        rule("filename", "secret/*", "local-model"),
        rule("catch_all", None, "default-model"),
    ),
)


@pytest.mark.parametrize(
    ("request_", "header", "expected"),
    [
        (fim(), None, "fim-model"),
        (fim(suffix="\n"), None, "fim-model"),
        (chat(suffix=""), None, "fim-model"),
        (chat(model="fast"), None, "fast-model"),
        (chat(model="fast-and-cheap"), None, "fast-model"),
        (chat(model="Fast"), None, "default-model"),
        (chat(), "analysis.ipynb", "notebook-model"),
        (chat(), "a.py, lab/analysis.ipynb", "notebook-model"),
        (chat(content="```python secret/keys.py\nx = 1\n```"), None, "local-model"),
        (chat(content="```secret/keys.py\n```"), None, "local-model"),
        (chat(content="```python\nsecret/keys.py\n```"), None, "default-model"),
        (chat(content="see secret/keys.py"), None, "default-model"),
        (chat(), None, "default-model"),
    ],
)
def test_first_matching_rule_wins(request_, header, expected):
    assert WORKSPACE.select(request_, header).targets[0].model == expected


def test_mentioned_files():
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "```py:src/a.py\n```"}]},
            {"role": "user", "content": '~~~python title="docs/b.md"\n~~~\n```python\n```'},
        ]
    }
    assert mentioned_files(body, " x.ipynb ,") == ("x.ipynb", "src/a.py", "docs/b.md")


def test_rule_whose_targets_are_gone_is_explained():
    gone = WorkspaceRoute("w", (Rule("catch_all", None, (Target("old", "m", None),)),))
    with pytest.raises(NoUsableModel, match=r"'old'.*no longer exists"):
        gone.select(chat())
    with pytest.raises(NoUsableModel, match="has no model"):
        WorkspaceRoute("w", (Rule("catch_all", None, ()),)).select(chat())


# -- the rules API ---------------------------------------------------------------------------


async def test_rules_round_trip(two_llamas):
    api = two_llamas
    rules = await api.ok("GET", "workspaces/wa/rules")
    assert rules == [
        {
            "kind": "catch_all",
            "pattern": None,
            "ok": True,
            "problem": None,
            "targets": [{"provider": "llama-a", "model": "tiny-a"}],
        }
    ]
    new = [
        {
            "kind": "request_type",
            "pattern": "fim",
            "targets": [{"provider": "llama-b", "model": "tiny-b"}],
        },
        {
            "kind": "catch_all",
            "targets": [
                {"provider": "llama-a", "model": "tiny-a"},
                {"provider": "llama-b", "model": "tiny-b"},
            ],
        },
    ]
    saved = await api.ok("PUT", "workspaces/wa/rules", new)
    assert [r["kind"] for r in saved] == ["request_type", "catch_all"]
    assert all(r["ok"] for r in saved)
    assert await api.ok("PUT", "workspaces/wa/rules", saved) == saved  # GET output PUTs back
    workspace = await api.ok("GET", "workspaces/wa")
    assert workspace["preferred"] == {"provider": "llama-a", "model": "tiny-a"}
    # Changing `preferred` keeps the catch-all's fallbacks.
    await api.ok(
        "PATCH", "workspaces/wa", {"preferred": {"provider": "llama-b", "model": "tiny-b"}}
    )
    catch_all = (await api.ok("GET", "workspaces/wa/rules"))[-1]
    assert [t["model"] for t in catch_all["targets"]] == ["tiny-b", "tiny-b"]


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ([], ["rules"]),
        ({}, ["array"]),
        (
            [
                {
                    "kind": "model",
                    "pattern": "x",
                    "targets": [{"provider": "llama-a", "model": "tiny-a"}],
                }
            ],
            ["last", "catch_all"],
        ),
        ([{"kind": "catch_all"}, {"kind": "catch_all"}], ["rules[0]", "last"]),
        (
            [
                {
                    "kind": "request_type",
                    "pattern": "code",
                    "targets": [{"provider": "llama-a", "model": "tiny-a"}],
                },
                {"kind": "catch_all"},
            ],
            ["rules[0]", "chat", "fim"],
        ),
        (
            [
                {"kind": "filename", "targets": [{"provider": "llama-a", "model": "tiny-a"}]},
                {"kind": "catch_all"},
            ],
            ["rules[0]", "pattern"],
        ),
        ([{"kind": "model", "pattern": "x"}, {"kind": "catch_all"}], ["rules[0]", "target"]),
        (
            [{"kind": "catch_all", "targets": [{"provider": "ghost", "model": "m"}]}],
            ["rules[0]", "target 0", "ghost"],
        ),
        (
            [{"kind": "catch_all", "targets": [{"provider": "llama-a", "model": "nope"}]}],
            ["rules[0]", "nope", "tiny-a"],
        ),
        ([{"kind": "catch_all", "pattern": "*"}], ["rules[0]", "no pattern"]),
        ([{"kind": "regex", "pattern": "x"}], ["rules[0].kind"]),
    ],
)
async def test_bad_rules_are_refused_and_nothing_changes(two_llamas, rules, words):
    before = await two_llamas.ok("GET", "workspaces/wa/rules")
    code, error = await two_llamas("PUT", "workspaces/wa/rules", rules)
    assert code == 400, error
    for word in words:
        assert word in error["message"], error["message"]
    assert await two_llamas.ok("GET", "workspaces/wa/rules") == before


async def test_rule_with_deleted_provider_is_kept_and_flagged(two_llamas):
    await two_llamas.ok(
        "PUT",
        "workspaces/wa/rules",
        [
            {
                "kind": "model",
                "pattern": "big*",
                "targets": [{"provider": "llama-b", "model": "tiny-b"}],
            },
            {"kind": "catch_all", "targets": [{"provider": "llama-a", "model": "tiny-a"}]},
        ],
    )
    await two_llamas.ok("DELETE", "providers/llama-b", status=204)
    rules = await two_llamas.ok("GET", "workspaces/wa/rules")
    assert rules[0]["targets"] == [{"provider": "llama-b", "model": "tiny-b"}]
    assert not rules[0]["ok"] and "llama-b" in rules[0]["problem"]
    assert rules[1]["ok"]


async def test_rules_route_requests(two_llamas, mux_url, token):
    await two_llamas.ok(
        "PUT",
        "workspaces/wa/rules",
        [
            {
                "kind": "model",
                "pattern": "reasoning",
                "targets": [{"provider": "llama-b", "model": "tiny-b"}],
            },
            {
                "kind": "request_type",
                "pattern": "fim",
                "targets": [{"provider": "llama-b", "model": "tiny-b"}],
            },
            {"kind": "catch_all", "targets": [{"provider": "llama-a", "model": "tiny-a"}]},
        ],
    )
    oai = client(mux_url, token)
    plain = await oai.chat.completions.create(model="x", messages=MESSAGES, max_tokens=2)
    mapped = await oai.chat.completions.create(model="reasoning", messages=MESSAGES, max_tokens=2)
    completion = await oai.completions.create(model="x", prompt="def f(", max_tokens=2)
    assert (plain.model, mapped.model, completion.model) == ("tiny-a", "tiny-b", "tiny-b")
    models = await oai.models.list()
    assert sorted(m.id for m in models.data) == ["tiny-a", "tiny-b"]


# -- fallbacks -------------------------------------------------------------------------------


async def fallback_workspace(api, first_endpoint, second) -> None:
    """`default`: first a provider at `first_endpoint`, then llama `second` as fallback."""
    with RecordingUpstream() as up:
        await api.ok(
            "POST", "providers", {"name": "first", "type": "vllm", "endpoint": up.endpoint}, 201
        )
    await api.ok("PATCH", "providers/first", {"endpoint": first_endpoint})
    await api.ok(
        "POST",
        "providers",
        {"name": "second", "type": "llamacpp", "endpoint": second.endpoint},
        201,
    )
    await api.ok(
        "PUT",
        "workspaces/default/rules",
        [
            {
                "kind": "catch_all",
                "targets": [
                    {"provider": "first", "model": "rec-model"},
                    {"provider": "second", "model": second.alias},
                ],
            }
        ],
    )


async def post(mux_url, token, **body) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await mux_chat(http, mux_url, token, max_tokens=2, **body)


async def test_fallback_when_first_is_down(api, llama_b, mux_url, token, free_port):
    await fallback_workspace(api, f"http://127.0.0.1:{free_port}", llama_b)
    for stream in (False, True):
        response = await post(mux_url, token, stream=stream)
        assert response.status_code == 200, response.text
        assert response.headers["x-mux-provider"] == "second"
        assert response.headers["x-mux-model"] == "tiny-b"
        assert response.headers["x-mux-attempts"] == "2"


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_fallback_on_5xx_and_429(api, llama_b, mux_url, token, status):
    with RecordingUpstream(status=status) as failing:
        await fallback_workspace(api, failing.endpoint, llama_b)
        response = await post(mux_url, token)
        assert failing.requests[-1]["path"] == "/v1/chat/completions"
    assert response.status_code == 200 and response.headers["x-mux-attempts"] == "2"


async def test_no_fallback_on_client_errors(api, llama_b, mux_url, token):
    with RecordingUpstream(status=401) as refusing:
        await fallback_workspace(api, refusing.endpoint, llama_b)
        response = await post(mux_url, token)
    assert response.status_code == 401 and "first" in response.json()["error"]["message"]


class TestStalledFirstTarget:
    @pytest.fixture
    def mux_config(self):
        return {"read_timeout": 1.0, "discovery_timeout": 1.0}

    async def test_timeout_falls_back(self, api, llama_b, mux_url, token, stalled_upstream):
        await fallback_workspace(api, stalled_upstream, llama_b)
        response = await post(mux_url, token)
        assert response.status_code == 200 and response.headers["x-mux-provider"] == "second"

    async def test_no_fallback_after_first_byte(self, api, llama_b, mux_url, token):
        with RecordingUpstream(chunks=2, chunk_delay=2.0) as dripping:
            await fallback_workspace(api, dripping.endpoint, llama_b)
            response = await post(mux_url, token, stream=True)
        assert response.status_code == 200
        assert (response.headers["x-mux-provider"], response.headers["x-mux-attempts"]) == (
            "first",
            "1",
        )
        events = data_events(response.text)
        assert "part0" in events[0]
        assert json.loads(events[-1])["error"]["code"] == "upstream_timeout"


async def test_all_targets_failing_names_each(api, mux_url, token, free_port):
    with RecordingUpstream() as up:
        await api.ok(
            "POST", "providers", {"name": "a", "type": "vllm", "endpoint": up.endpoint}, 201
        )
        await api.ok(
            "POST", "providers", {"name": "b", "type": "vllm", "endpoint": up.endpoint}, 201
        )
        await api.ok(
            "PUT",
            "workspaces/default/rules",
            [
                {
                    "kind": "catch_all",
                    "targets": [
                        {"provider": "a", "model": "rec-model"},
                        {"provider": "b", "model": "rec-model"},
                    ],
                }
            ],
        )
    for name in ("a", "b"):
        await api.ok("PATCH", f"providers/{name}", {"endpoint": f"http://127.0.0.1:{free_port}"})
    response = await post(mux_url, token)
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "'b'" in message and "a/rec-model" in message


# -- sharing ---------------------------------------------------------------------------------


async def test_export_import_round_trip(two_llamas):
    api = two_llamas
    await api.ok("PATCH", "providers/llama-a", {"description": "x"})
    await api.ok(
        "PUT",
        "workspaces/wa/rules",
        [
            {
                "kind": "filename",
                "pattern": "*.ipynb",
                "targets": [{"provider": "llama-b", "model": "tiny-b"}],
            },
            {"kind": "catch_all", "targets": [{"provider": "llama-a", "model": "tiny-a"}]},
        ],
    )
    await api.ok("PATCH", "workspaces/wa", {"description": "shared setup"})
    exported = await api.ok("GET", "workspaces/wa/export")
    assert exported["format"] == "jupyter-mux.workspace/1"
    assert exported["providers"] == [
        {"name": "llama-b", "type": "llamacpp"},
        {"name": "llama-a", "type": "llamacpp"},
    ]
    assert "endpoint" not in json.dumps(exported) and "key" not in json.dumps(exported)
    code, _ = await api("POST", "workspaces/import", exported)
    assert code == 409
    imported = await api.ok("POST", "workspaces/import", {**exported, "name": "copy"}, 201)
    assert imported["description"] == "shared setup" and imported["preferred_ok"]
    copy_rules = await api.ok("GET", "workspaces/copy/rules")
    assert copy_rules == await api.ok("GET", "workspaces/wa/rules")


async def test_import_matches_providers_by_type_and_flags_the_rest(two_llamas):
    api = two_llamas
    shared = {
        "name": "from-a-colleague",
        "rules": [
            {
                "kind": "model",
                "pattern": "cloud",
                "targets": [{"provider": "their-openai", "model": "gpt-4o"}],
            },
            {"kind": "catch_all", "targets": [{"provider": "their-llama", "model": "tiny-a"}]},
        ],
        "providers": [
            {"name": "their-llama", "type": "llamacpp"},
            {"name": "their-openai", "type": "openai"},
        ],
    }
    await api.ok("POST", "workspaces/import", shared, 201)
    rules = await api.ok("GET", "workspaces/from-a-colleague/rules")
    assert rules[1]["targets"] == [{"provider": "llama-a", "model": "tiny-a"}] and rules[1]["ok"]
    assert rules[0]["targets"][0]["provider"] == "their-openai" and not rules[0]["ok"]
    code, _ = await api("POST", "workspaces/import", {**shared, "name": "import"})
    assert code == 400


# Inputs of 1 MB built to make a backtracking scan for file names stall (issue 13, item 4).
ADVERSARIAL = {
    "dotted token ending in !": "```" + "a." * 500_000 + "!",
    "dotted token, quoted": "```'" + "a/" * 500_000 + "'!",
    "title= repeated": "```" + "title=" * 166_666,
    "a fence on every line": "```a.py\n" * 125_000,
    "backticks": "`" * 1_000_000,
    "separators only": "```" + "./\\" * 333_333,
    "dots, no fence": "a." * 500_000 + "!",
    "blanks before a fence that never comes": " " * 1_000_000,
    "blanks inside a fence, then a backtick": "```" + " " * 999_996 + "`",
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_file_scan_is_linear_and_bounded(monkeypatch, text):
    """No timing: the scan's work is bounded structurally. Fences are found in one pass over
    the lines; the token pattern, the only regex applied, sees no token longer than
    MAX_INFO, and each character in at most one token, so its total work is linear."""
    from jupyter_mux import openai_request

    real = openai_request._FILE_TOKEN
    seen: list[int] = []

    class Spy:
        def fullmatch(self, token: str):
            seen.append(len(token))
            return real.fullmatch(token) if len(token) <= openai_request.MAX_INFO else None

    monkeypatch.setattr(openai_request, "_FILE_TOKEN", Spy())
    files = mentioned_files({"messages": [{"role": "user", "content": text}]})
    assert max(seen, default=0) <= openai_request.MAX_INFO
    assert sum(seen) <= len(text)
    assert files == (("a.py",) if text.startswith("```a.py") else ())


def test_file_scan_stops_at_its_budget():
    from jupyter_mux.openai_request import MAX_SCANNED

    early = {"role": "user", "content": "```early.py\n```"}
    late = {"role": "user", "content": "x" * MAX_SCANNED + "\n```late.py\n```"}
    assert mentioned_files({"messages": [early, late]}) == ("early.py",)
