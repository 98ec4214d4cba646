"""The snippets of docs/connect.md are real: each fenced block marked `<!-- run -->` (or
`<!-- run: ollama -->`, `<!-- run: env -->`) runs, with `<server>` and `<token>` filled in,
in a Python process of its own against a real Jupyter server with the mux.

- `run`: against a real local model (tiny llama.cpp, which always stops at its length
  limit) and against the fake Ollama (which answers "stop" with a fixed text);
- `run: ollama`: only against the fake Ollama (agents and LangChain's Responses reader want
  a completed answer; embeddings need a model that embeds);
- `run: env` (a shell block of `export`s): the openai and anthropic SDKs, built with no
  arguments, read those variables and reach the mux (against both upstreams).

Each run must end without error and have sent at least one request through the mux, which
must have recorded no error."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .fake_ollama import FakeOllama

DOC = Path(__file__).parent.parent / "docs" / "connect.md"
MARKED = re.compile(
    r"<!-- run(?:: (?P<only>[\w-]+))? -->\s*\n```(?P<lang>\w+)\n(?P<code>.*?)```", re.S
)
HEADING = re.compile(r"^#+ (.+)$", re.M)
OLLAMA_MODEL = "llama3.2:1b"
PINNED = "secret-project"  # the workspace the snippets pin

# What the `run: env` block is checked with: clients built with no arguments.
ENV_PROGRAM = """
from anthropic import Anthropic
from openai import OpenAI

hello = [{"role": "user", "content": "Say hello."}]
print(OpenAI().chat.completions.create(model="mux", messages=hello).choices[0].message.content)
print(Anthropic().messages.create(model="mux", max_tokens=16, messages=hello).content[0].text)
"""


@dataclass(frozen=True)
class Snippet:
    name: str
    lang: str
    only: str | None
    code: str


def snippets() -> list[Snippet]:
    text = DOC.read_text()
    # Headings outside code blocks only (a `# comment` in a block is no heading).
    prose = re.sub(r"```.*?```", lambda m: " " * len(m[0]), text, flags=re.S)
    found = []
    for match in MARKED.finditer(text):
        headings = HEADING.findall(prose, 0, match.start())
        section = re.sub(r"[^a-z0-9]+", "-", headings[-1].lower()).strip("-")
        name = f"{len(found) + 1}-{section}"
        found.append(Snippet(name, match["lang"], match["only"], match["code"]))
    return found


def cases() -> list[Any]:
    out = []
    for snippet in snippets():
        for upstream in ("llama", "ollama"):
            if snippet.only == "ollama" and upstream == "llama":
                continue
            out.append(pytest.param(snippet, upstream, id=f"{snippet.name}-{upstream}"))
    return out


def test_the_page_has_runnable_snippets_for_each_client() -> None:
    """The marked blocks cover every installed client library and the variables."""
    code = "\n".join(s.code for s in snippets())
    for needle in (
        "chat.completions.create",
        "responses.create",
        "embeddings.create",
        "ChatOpenAI(",
        "use_responses_api=True",
        "check_embedding_ctx_length=False",
        "set_tracing_disabled(True)",
        "Anthropic(",
        'base_url="<server>/mux"',
        "X-Mux-Workspace",
        "/mux/w/secret-project/v1",
        "ANTHROPIC_AUTH_TOKEN",
    ):
        assert needle in code, needle
    assert not re.search(r"<(?!server>|token>)[a-z-]+>", code), "unknown placeholder"


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


def fill(text: str, server_url: str, token: str) -> str:
    return text.replace("<server>", server_url.rstrip("/")).replace("<token>", token)


def exports(block: str) -> dict[str, str]:
    """`export NAME="value"` lines of a shell block."""
    return dict(re.findall(r'^export (\w+)="([^"]*)"$', block, re.M))


async def serve(api: Any, upstream: str, request: pytest.FixtureRequest) -> None:
    """The default workspace and `secret-project`, both served by `upstream`."""
    if upstream == "llama":
        llama = request.getfixturevalue("llama_a")
        provider = {"name": "up", "type": "llamacpp", "endpoint": llama.endpoint}
        model = "tiny-a"
    else:
        fake = request.getfixturevalue("ollama")
        provider = {"name": "up", "type": "ollama", "endpoint": fake.endpoint}
        model = OLLAMA_MODEL
    await api.use(provider, model)
    preferred = {"provider": "up", "model": model}
    await api.ok("POST", "workspaces", {"name": PINNED, "preferred": preferred}, 201)


@pytest.mark.parametrize(("snippet", "upstream"), cases())
async def test_snippet_runs(
    snippet: Snippet,
    upstream: str,
    api: Any,
    server_url: str,
    token: str,
    jp_serverapp: Any,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    await serve(api, upstream, request)
    # Only what the snippet sets may point a client anywhere; nothing leaves loopback.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env["HOME"] = str(tmp_path)
    if snippet.lang == "bash":
        env.update(exports(fill(snippet.code, server_url, token)))
        code = ENV_PROGRAM
    else:
        assert snippet.lang == "python", snippet.name
        code = fill(snippet.code, server_url, token)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, f"{snippet.name}:\n{code}\n{err.decode()[-3000:]}"
    assert out.strip(), err.decode()
    await jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush()
    totals = (await api.ok("GET", "usage?group_by=workspace"))["totals"]
    assert totals["requests"] > 0 and totals["errors"] == 0, totals
