"""The tiny local model and the in-process llama.cpp server, over real loopback sockets.

These pin down what a ``llamacpp`` upstream really answers, as seen by the ``openai`` SDK
and a plain HTTP client, so the mux's own tests can rely on these servers as fixtures.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gguf")
pytest.importorskip("xllamacpp")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

from jupyter_mux.localmodel import (  # noqa: E402
    VOCABULARIES,
    LocalLlamaServer,
    answer_words,
    write_tiny_model,
)

MESSAGES = [{"role": "user", "content": "Say something."}]
MAX_TOKENS = 8


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("models")
    return {
        "tiny-a": write_tiny_model(tmp / "tiny-a.gguf", seed=1),
        "tiny-b": write_tiny_model(tmp / "tiny-b.gguf", seed=2),
    }


@pytest.fixture(scope="module")
def server_a(models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    with LocalLlamaServer(models["tiny-a"], alias="tiny-a") as server:
        yield server


@pytest.fixture(scope="module")
def server_b(models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    with LocalLlamaServer(models["tiny-b"], alias="tiny-b") as server:
        yield server


@pytest.fixture(scope="module")
def locked_server(models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    with LocalLlamaServer(models["tiny-a"], alias="locked", api_key="sekrit") as server:
        yield server


def client(server: LocalLlamaServer, api_key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.endpoint + "/v1", api_key=api_key, max_retries=0)


def port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- the model file ---------------------------------------------------------------------


def test_tiny_model_file(models: dict[str, Path], tmp_path: Path) -> None:
    import gguf

    path = models["tiny-a"]
    assert 100_000 < path.stat().st_size < 1_000_000

    reader = gguf.GGUFReader(path)
    fields = reader.fields
    assert fields["general.architecture"].contents() == "llama"
    assert fields["llama.block_count"].contents() == 2
    assert fields["tokenizer.ggml.model"].contents() == "gpt2"
    tokens = fields["tokenizer.ggml.tokens"].contents()
    assert {"<|im_start|>", "<|im_end|>"} <= set(tokens)
    assert len(tokens) > 256  # every byte, some merges, the words, the special tokens
    assert {"Ġ" + word for word in answer_words(seed=1)} <= set(tokens)
    assert "<|im_start|>" in fields["tokenizer.chat_template"].contents()
    assert tokens[fields["tokenizer.ggml.eos_token_id"].contents()] == "<|im_end|>"
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in reader.tensors)

    # The seed alone decides the weights.
    again = write_tiny_model(tmp_path / "again.gguf", seed=1)
    assert again.read_bytes() == path.read_bytes()
    other = gguf.GGUFReader(models["tiny-b"])
    (q, other_q) = (
        next(t.data for t in r.tensors if t.name == "blk.0.attn_q.weight") for r in (reader, other)
    )
    assert (q != other_q).any()
    assert not list(tmp_path.glob(".*partial"))  # written under a temporary name, renamed


def test_vocabularies_are_told_apart_at_a_glance(tmp_path: Path) -> None:
    lists = list(VOCABULARIES.values())
    for i, words in enumerate(lists):
        assert len(set(words)) == len(words) and all(w.isalpha() for w in words)
        for other in lists[i + 1 :]:
            assert not set(words) & set(other)
    assert answer_words(seed=len(lists) + 1) == lists[1]  # by seed, round the lists
    assert answer_words(seed=0, vocabulary="forest") == VOCABULARIES["forest"]
    with pytest.raises(ValueError, match="no vocabulary 'nope'; known: ocean"):
        write_tiny_model(tmp_path / "x.gguf", vocabulary="nope")
    assert not list(tmp_path.iterdir())


def spoken_words(text: str) -> list[str]:
    return text.replace(".", " ").replace(",", " ").split()


@pytest.mark.parametrize("temperature", [None, 0.0, 1.5])
def test_answers_are_words_of_the_models_own_list(
    temperature: float | None, server_a: LocalLlamaServer, server_b: LocalLlamaServer
) -> None:
    """Whatever the sampling, a model says only its own words, so the two never overlap."""
    options = {} if temperature is None else {"temperature": temperature}
    said = {}
    for server, seed in ((server_a, 1), (server_b, 2)):
        answer = client(server).chat.completions.create(
            model="m", messages=MESSAGES, max_tokens=MAX_TOKENS, **options
        )
        words = spoken_words(answer.choices[0].message.content or "")
        assert words, answer
        assert set(words) <= set(answer_words(seed)), (words, answer_words(seed))
        said[seed] = set(words)
    assert not said[1] & said[2]


# --- OpenAI wire format -------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["tiny-a", "tiny-b"])
def test_models_lists_the_alias(
    alias: str, server_a: LocalLlamaServer, server_b: LocalLlamaServer
) -> None:
    server = {"tiny-a": server_a, "tiny-b": server_b}[alias]
    assert [m.id for m in client(server).models.list()] == [alias]


def test_chat_completion(server_a: LocalLlamaServer) -> None:
    # The requested model name is not checked: llama.cpp answers with its alias.
    answer = client(server_a).chat.completions.create(
        model="anything", messages=MESSAGES, max_tokens=MAX_TOKENS
    )
    assert answer.object == "chat.completion"
    assert answer.model == "tiny-a"
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in {"length", "stop"}
    assert answer.usage is not None
    assert 0 < answer.usage.completion_tokens <= MAX_TOKENS
    assert answer.usage.prompt_tokens > 0


def test_chat_completion_stream(server_a: LocalLlamaServer) -> None:
    stream = client(server_a).chat.completions.create(
        model="tiny-a",
        messages=MESSAGES,
        max_tokens=MAX_TOKENS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)  # the SDK stops at "data: [DONE]"
    assert len(chunks) > 1
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {"tiny-a"}
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert with_choices[-1].choices[0].finish_reason in {"length", "stop"}
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert isinstance(text, str)
    # include_usage: a last chunk without choices carries the usage.
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert 0 < chunks[-1].usage.completion_tokens <= MAX_TOKENS


def test_completions(server_a: LocalLlamaServer) -> None:
    answer = client(server_a).completions.create(
        model="tiny-a", prompt="Once upon a time", max_tokens=MAX_TOKENS
    )
    assert answer.object == "text_completion"
    assert answer.model == "tiny-a"
    assert isinstance(answer.choices[0].text, str)
    assert answer.usage is not None
    assert 0 < answer.usage.completion_tokens <= MAX_TOKENS


def test_seeds_give_different_models(
    server_a: LocalLlamaServer, server_b: LocalLlamaServer
) -> None:
    def greedy(server: LocalLlamaServer) -> str | None:
        answer = client(server).chat.completions.create(
            model="m", messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0
        )
        return answer.choices[0].message.content

    first = greedy(server_a)
    assert first
    assert greedy(server_a) == first
    assert greedy(server_b) != first


# --- API key ------------------------------------------------------------------------------


def test_api_key(locked_server: LocalLlamaServer) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        client(locked_server, api_key="wrong").chat.completions.create(
            model="locked", messages=MESSAGES, max_tokens=MAX_TOKENS
        )
    assert refused.value.status_code == 401

    good = client(locked_server, api_key="sekrit")
    answer = good.chat.completions.create(model="locked", messages=MESSAGES, max_tokens=MAX_TOKENS)
    assert answer.model == "locked"
    assert [m.id for m in good.models.list()] == ["locked"]

    # Only /health is public; the model list is behind the key too.
    base = locked_server.endpoint
    assert httpx.get(base + "/health").status_code == 200
    assert httpx.get(base + "/v1/models").status_code == 401
    assert httpx.get(base + "/v1/models", headers={"x-api-key": "sekrit"}).status_code == 200


# --- Anthropic wire format ----------------------------------------------------------------


def test_anthropic_messages(server_b: LocalLlamaServer) -> None:
    response = httpx.post(
        server_b.endpoint + "/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        json={"model": "claude-whatever", "max_tokens": MAX_TOKENS, "messages": MESSAGES},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == "tiny-b"
    assert [block["type"] for block in body["content"]] == ["text"]
    assert isinstance(body["content"][0]["text"], str)
    assert body["stop_reason"] in {"max_tokens", "end_turn"}
    assert 0 < body["usage"]["output_tokens"] <= MAX_TOKENS


# --- lifecycle ----------------------------------------------------------------------------


def test_stop_frees_the_port(models: dict[str, Path]) -> None:
    server = LocalLlamaServer(models["tiny-a"], alias="short-lived")
    with pytest.raises(RuntimeError):
        server.endpoint  # noqa: B018 - the port is only known once started
    assert server.start() is server
    port = server.port
    assert port is not None
    assert server.running
    assert port_accepts(port)

    server.stop()
    assert not server.running
    assert not port_accepts(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.endpoint + "/health")
    server.stop()  # stopping twice is harmless

    with server:  # and it starts again
        assert httpx.get(server.endpoint + "/health").status_code == 200
    assert not port_accepts(server.port)


def test_stop_lets_requests_in_progress_finish(models: dict[str, Path]) -> None:
    """Clients in this process are still waiting: stop() must neither deadlock nor cut them.

    Freeing llama.cpp's server while a request is decoding waits for that request's client
    to hang up, with the GIL held; a client thread of this process then never can.
    """
    server = LocalLlamaServer(models["tiny-b"], alias="busy").start()
    busy = client(server)
    answers: list[int] = []

    def ask() -> None:
        answer = busy.chat.completions.create(model="busy", messages=MESSAGES, max_tokens=400)
        assert answer.usage is not None
        answers.append(answer.usage.completion_tokens)

    def in_progress() -> int:
        slots = httpx.get(server.endpoint + "/slots").json()
        return sum(slot["is_processing"] for slot in slots)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while in_progress() + len(answers) < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.stop()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert answers == [400] * 4


def test_stopping_an_idle_server_logs_no_error(models: dict[str, Path]) -> None:
    """llama.cpp logs to the process's stderr, so the server runs in a child process: a
    stop after requests (a keep-alive connection still open, as the mux's pool keeps one)
    leaves that stderr free of llama.cpp's "stopped unexpectedly"."""
    script = textwrap.dedent(
        f"""
        import httpx
        from jupyter_mux.localmodel import LocalLlamaServer

        server = LocalLlamaServer({str(models["tiny-a"])!r}, alias="quiet").start()
        body = {{"messages": [{{"role": "user", "content": "hi"}}], "max_tokens": 4}}
        with httpx.Client(base_url=server.endpoint) as http:
            assert http.post("/v1/chat/completions", json=body).status_code == 200
            with http.stream("POST", "/v1/chat/completions", json={{**body, "stream": True}}):
                pass
            server.stop()
        print("stopped", server.running)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped False"
    assert "stopped unexpectedly" not in done.stderr, done.stderr


def test_start_errors(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no model file"):
        LocalLlamaServer(tmp_path / "missing.gguf", alias="x").start()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LocalLlamaServer(models["tiny-a"], alias="x", port=port)
        with pytest.raises(RuntimeError, match="could not serve"):
            server.start()
        assert not server.running
