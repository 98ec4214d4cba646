"""A tiny local LLM: a random-weight GGUF model and an in-process llama.cpp server.

jupyter-mux routes OpenAI-style requests to real providers. Demos and end-to-end tests
need such a provider without internet access, API keys or a multi-gigabyte download. So
this module makes one:

* :func:`write_tiny_model` writes a ~0.5 MB llama-architecture GGUF file with random
  weights. The weights are nonsense, but the file is a real model: llama.cpp tokenizes,
  applies the chat template, samples and streams tokens exactly as for a real one. Its
  answers are random picks from one small word list (:data:`VOCABULARIES`), a different
  list per model, so a reader sees at a glance which model answered.
* :class:`LocalLlamaServer` serves such a file (or any GGUF) through llama.cpp's own HTTP
  server, embedded in this process by the ``xllamacpp`` wheel. It speaks the OpenAI
  (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``) and Anthropic
  (``/v1/messages``) wire formats, so it stands in for a ``llamacpp`` provider.

Both need optional packages (``gguf``, ``numpy``, ``xllamacpp``) from the ``demo`` extra.
They are imported on first use so that importing this module never fails.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pathlib
import socket
import threading
import time
import urllib.request
from http import HTTPStatus
from socket import AF_INET, SOCK_STREAM
from types import ModuleType, TracebackType
from typing import Any

__all__ = ["VOCABULARIES", "LocalLlamaServer", "answer_words", "write_tiny_model"]

_INSTALL_HINT = "pip install jupyter-mux[demo]"

# Model shape. Small enough that the file is ~0.5 MB and loads in milliseconds, big
# enough to be a genuine multi-head, multi-layer llama graph.
_N_EMBD = 64
_N_HEAD = 4
_N_LAYER = 2
_N_FF = 128
_CONTEXT_LENGTH = 2048

# A handful of merges: the byte-level vocabulary alone covers all text, but llama.cpp
# refuses a BPE vocabulary without a merge list, and a few real merges exercise it.
_MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r"), ("Ġ", "a")]
_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML, the format of the special tokens above. llama.cpp renders it with its Jinja
# engine for /v1/chat/completions and /v1/messages.
_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: The words a tiny model answers in, by theme: each model says only the words of its own
#: list (plus "." and ","), so two models never answer alike and a reader tells them apart
#: at a glance. A model's list is chosen by name, else by seed (the seed modulo the number
#: of lists, in this order).
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "ocean": (
        *("ocean", "wave", "tide", "salt", "shell", "coral", "reef", "foam", "gull", "harbor"),
        *("anchor", "sail", "current", "drift", "kelp", "pearl", "shore", "surf", "whale"),
        *("dolphin", "lagoon", "breeze", "deep", "blue", "spray", "island", "sand", "crab"),
    ),
    "forest": (
        *("forest", "pine", "moss", "fern", "oak", "leaf", "root", "bark", "birch", "trail"),
        *("owl", "fox", "deer", "acorn", "maple", "cedar", "canopy", "mushroom", "branch"),
        *("grove", "willow", "meadow", "thicket", "green", "shade", "creek", "badger", "sap"),
    ),
    "mountain": (
        *("mountain", "peak", "ridge", "summit", "glacier", "snow", "stone", "cliff", "pass"),
        *("granite", "eagle", "valley", "slope", "boulder", "avalanche", "crag", "ice"),
        *("alpine", "goat", "cairn", "scree", "thin", "air", "high", "cold", "rope", "ledge"),
    ),
    "space": (
        *("star", "comet", "orbit", "planet", "moon", "nebula", "galaxy", "rocket", "void"),
        *("asteroid", "meteor", "cosmic", "solar", "lunar", "quasar", "pulsar", "eclipse"),
        *("gravity", "dust", "light", "year", "vacuum", "satellite", "crater", "ring", "dark"),
    ),
}
# Tokens every model may say besides its words, so answers read as phrases.
_PUNCTUATION = (".", ",")

# Steering the random output to the model's words (see _random_weights).
_BIAS_VALUE = 3.0
_BIAS_PENALTY = -10.0


def _require(module: str) -> ModuleType:
    """Import an optional dependency, or explain which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"jupyter_mux.localmodel needs the optional package {module!r}; "
            f"install it with: {_INSTALL_HINT}"
        ) from exc


def _byte_symbols() -> list[str]:
    """One printable character per byte value, in byte order (GPT-2's byte-level BPE).

    Byte-level BPE vocabularies store tokens as text, so every byte needs a visible
    stand-in: printable Latin-1 bytes stand for themselves and the rest (controls,
    space, ...) are moved to code points from 256 upwards. llama.cpp undoes this
    mapping when it turns tokens back into bytes, so any text round-trips.
    """
    printable = {
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    }
    symbols = []
    shifted = 256
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(shifted))
            shifted += 1
    return symbols


def answer_words(seed: int = 0, vocabulary: str | None = None) -> tuple[str, ...]:
    """The words a model written with this ``seed`` and ``vocabulary`` answers in."""
    if vocabulary is None:
        return list(VOCABULARIES.values())[seed % len(VOCABULARIES)]
    try:
        return VOCABULARIES[vocabulary]
    except KeyError:
        known = ", ".join(VOCABULARIES)
        raise ValueError(f"no vocabulary {vocabulary!r}; known: {known}") from None


def write_tiny_model(
    path: str | os.PathLike[str], *, seed: int = 0, vocabulary: str | None = None
) -> pathlib.Path:
    """Write a tiny random-weight llama model to ``path`` (GGUF, f32) and return the path.

    The vocabulary is byte-level BPE (so any text tokenizes), whole-word tokens for the
    words of ``vocabulary`` (a key of :data:`VOCABULARIES`; by default chosen by ``seed``),
    plus ChatML special tokens and a ChatML chat template (so the chat endpoints work). The
    model answers only in those words. ``seed`` picks the weights: two different seeds give
    two models that answer differently, which lets a test tell which upstream served a
    request. The file is (re)written to a temporary name and renamed into place, so a server
    that maps the old file keeps reading the old one.
    """
    np = _require("numpy")
    gguf = _require("gguf")
    path = pathlib.Path(path)
    words = answer_words(seed, vocabulary)

    space = _byte_symbols()[ord(" ")]  # "Ġ": a word token carries its leading space
    tokens = _byte_symbols() + [a + b for a, b in _MERGES] + [space + w for w in words]
    speakable = {space + w for w in words} | {_byte_symbols()[ord(p)] for p in _PUNCTUATION}
    n_normal = len(tokens)
    tokens += _SPECIAL_TOKENS
    token_types = [gguf.TokenType.NORMAL] * n_normal
    token_types += [gguf.TokenType.CONTROL] * len(_SPECIAL_TOKENS)

    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    writer = gguf.GGUFWriter(partial, "llama")
    writer.add_name(f"jupyter-mux tiny random llama ({words[0]} words, seed {seed})")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(_CONTEXT_LENGTH)
    writer.add_embedding_length(_N_EMBD)
    writer.add_block_count(_N_LAYER)
    writer.add_feed_forward_length(_N_FF)
    writer.add_head_count(_N_HEAD)
    writer.add_head_count_kv(_N_HEAD)
    writer.add_rope_dimension_count(_N_EMBD // _N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))

    writer.add_tokenizer_model("gpt2")  # llama.cpp's name for byte-level BPE
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges([f"{a} {b}" for a, b in _MERGES])
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_add_bos_token(False)  # ChatML models start prompts without BOS
    writer.add_chat_template(_CHATML_TEMPLATE)

    speaks = [token in speakable for token in tokens[:n_normal]]
    rng = np.random.default_rng(seed)
    for name, tensor in _random_weights(np, rng, speaks, len(tokens)).items():
        writer.add_tensor(name, tensor)

    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _random_weights(np: Any, rng: Any, speaks: list[bool], n_vocab: int) -> dict[str, Any]:
    """All tensors of the llama graph, random but steered to the tokens in ``speaks``.

    numpy shapes are (rows, cols) = ggml's (ne1, ne0), so a weight mapping n_in features to
    n_out is stored as (n_out, n_in).

    Purely random weights sample every byte alike, which gives invalid UTF-8 (shown as
    replacement characters), and special tokens such as ``<|im_end|>`` would end answers
    at random lengths. Words of a predictable length make better demos and steadier
    tests, so: embedding dimension 0 holds the same positive constant for every token and
    no layer writes to it, hence it is still positive after the final RMS norm. Its column
    in the output matrix then acts as a per-token logit bias: zero for the tokens the model
    speaks (``speaks[token_id]``: its words and punctuation), strongly negative for all
    others (bytes, merges, special tokens).
    """

    def normal(*shape: int, scale: float) -> Any:
        return rng.normal(0.0, scale, size=shape).astype(np.float32)

    def ones() -> Any:
        return np.ones(_N_EMBD, dtype=np.float32)

    embeddings = normal(n_vocab, _N_EMBD, scale=1.0)
    embeddings[:, 0] = _BIAS_VALUE
    weights = {"token_embd.weight": embeddings}
    for i in range(_N_LAYER):
        attn_output = normal(_N_EMBD, _N_EMBD, scale=0.1)
        ffn_down = normal(_N_EMBD, _N_FF, scale=0.1)
        attn_output[0, :] = ffn_down[0, :] = 0.0  # keep dimension 0 constant
        weights |= {
            f"blk.{i}.attn_norm.weight": ones(),
            f"blk.{i}.attn_q.weight": normal(_N_EMBD, _N_EMBD, scale=0.1),
            f"blk.{i}.attn_k.weight": normal(_N_EMBD, _N_EMBD, scale=0.1),
            f"blk.{i}.attn_v.weight": normal(_N_EMBD, _N_EMBD, scale=0.1),
            f"blk.{i}.attn_output.weight": attn_output,
            f"blk.{i}.ffn_norm.weight": ones(),
            f"blk.{i}.ffn_gate.weight": normal(_N_FF, _N_EMBD, scale=0.1),
            f"blk.{i}.ffn_up.weight": normal(_N_FF, _N_EMBD, scale=0.1),
            f"blk.{i}.ffn_down.weight": ffn_down,
        }

    output = normal(n_vocab, _N_EMBD, scale=0.3)
    output[:, 0] = _BIAS_PENALTY  # special tokens (after the normal ones) stay penalized
    for token_id, spoken in enumerate(speaks):
        if spoken:
            output[token_id, 0] = 0.0
    weights["output_norm.weight"] = ones()
    weights["output.weight"] = output
    return weights


# State column of a listening socket in /proc/net/tcp.
_TCP_LISTEN = "0A"
# Seconds to wait for llama.cpp to close its sockets once shut down. Its handlers notice a
# client gone within a second.
_HANG_UP_TIMEOUT = 5.0

# Servers that never got ready: freeing them might block forever, so they are kept.
_ABANDONED: list[Any] = []


class LocalLlamaServer:
    """llama.cpp's HTTP server for one GGUF model, running inside this process.

    ``xllamacpp.Server`` starts llama.cpp's server on background threads as soon as it is
    constructed and stops it when the object is freed; it has no ``stop()`` method. This
    class gives that a start/stop lifecycle, a loopback endpoint and a context manager::

        with LocalLlamaServer(write_tiny_model(tmp / "a.gguf"), alias="tiny-a") as srv:
            client = openai.OpenAI(base_url=srv.endpoint + "/v1", api_key="x")

    The server binds 127.0.0.1 only. ``alias`` is the model id it lists and reports in
    every answer, whatever model a request names. With ``api_key`` set, every route
    except ``/health`` needs it (``Authorization: Bearer`` or ``x-api-key``). With
    ``port=None`` the operating system picks a free port when the server starts, so the
    port (and :attr:`endpoint`) is known from :meth:`start` on.

    Several servers can run in one process. ``start`` and ``stop`` may be called from any
    thread; the server itself handles concurrent requests (``n_parallel`` slots).
    """

    #: Context in tokens, shared by all requests in progress (unified KV cache): a request
    #: that finds it full fails with HTTP 500. 2048 tokens take 1 MB for the tiny model.
    n_ctx: int = 2048
    #: Requests decoded at the same time.
    n_parallel: int = 4
    #: Most tokens one request may generate, so that a request without ``max_tokens``
    #: leaves room for the others (llama.cpp's default is until the context is full).
    n_predict: int = 256
    #: CPU threads for decoding. One suits the tiny model: its matrices are too small to
    #: share out, and ggml's threads busy-wait on each other, so on a loaded machine two
    #: threads were measured up to 25 times slower than one.
    n_threads: int = 1
    #: Seconds to wait for the server to get ready once it was constructed.
    start_timeout: float = 30.0
    #: Seconds :meth:`stop` lets requests in progress finish (see there).
    stop_timeout: float = 10.0

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        alias: str,
        port: int | None = None,
        api_key: str | None = None,
        verbose: bool = False,
        embedding: bool = False,
    ) -> None:
        """Configure a server; nothing runs until :meth:`start`.

        ``verbose`` keeps llama.cpp's own informational log on stderr; by default only its
        errors are printed, since it logs several lines per request. ``embedding`` serves
        `/v1/embeddings` (mean-pooled) as well as the chat routes.
        """
        self.model_path = pathlib.Path(model_path)
        self.alias = alias
        self.api_key = api_key
        self.embedding = embedding
        self.verbose = verbose
        self._requested_port = port
        self._port: int | None = port
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int | None:
        """The port served on (or last served on); ``None`` before an automatic pick."""
        return self._port

    @property
    def endpoint(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``; add ``/v1`` for OpenAI clients."""
        if self._port is None:
            raise RuntimeError("the port is picked on start(); call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`stop` was not called since."""
        return self._server is not None

    def start(self) -> LocalLlamaServer:
        """Load the model, start serving, and return once the server answers requests.

        Blocks while llama.cpp loads the model (milliseconds for the tiny model), so call
        it off the event loop for big models. Starting a running server does nothing.
        Raises ``RuntimeError`` when llama.cpp cannot start (no or unreadable model, port
        taken) or does not get ready within :attr:`start_timeout` seconds.
        """
        with self._lock:
            if self._server is not None:
                return self
            if not self.model_path.is_file():
                raise RuntimeError(f"no model file at {self.model_path}")
            xllamacpp = _require("xllamacpp")
            try:
                server = xllamacpp.Server(self._params(xllamacpp))
            except RuntimeError as exc:
                where = f"127.0.0.1:{self._requested_port or 'auto'}"
                raise RuntimeError(
                    f"llama.cpp could not serve {self.model_path} on {where} ({exc}); "
                    "is the port taken or the file not a GGUF model? "
                    "llama.cpp printed the cause on stderr"
                ) from exc
            # listening_address is "http://127.0.0.1:PORT", with the port the OS picked.
            self._port = int(server.listening_address.rsplit(":", 1)[1])
            self._server = server
            del server  # stop() relies on self._server being the only reference
            try:
                self._wait_ready()
            except BaseException:
                # Freeing a server whose task loop may not run yet can hang forever (see
                # _wait_ready); leaking it, port included, is the lesser evil.
                _ABANDONED.append(self._server)
                self._server = None
                raise
            return self

    def stop(self) -> None:
        """Stop serving and free the port. Stopping a stopped server does nothing.

        Dropping the last reference to the ``xllamacpp.Server`` runs its C++ destructor,
        which ends the task loop, stops the HTTP server and joins their threads before
        returning; the port is closed when this returns.

        Before that, requests in progress get up to :attr:`stop_timeout` seconds to finish
        (milliseconds for the tiny model), and then the connections to the server are shut
        down, which cuts short what still runs. That matters: the destructor holds the GIL
        while it waits for every HTTP handler to return, and a handler whose request is
        unfinished returns only once its client hangs up, which a client in this same
        process cannot do without the GIL: a deadlock. Shutting the sockets down from here
        needs ``/proc`` (Linux); elsewhere, stop a server only once its clients in this
        process are done.

        The listening socket is left to the destructor, which closes it in order, unless
        requests were still running when the time was up: then it is shut down first, so
        that no client can reconnect meanwhile (llama.cpp then logs that its listener
        "stopped unexpectedly"; that is this shutdown). A stop of an idle server logs
        nothing.
        """
        with self._lock:
            if self._server is not None and self._port is not None:
                idle = self._wait_idle()
                _hang_up(self._port, timeout=_HANG_UP_TIMEOUT, listener=not idle)
            self._stop_locked()

    def _stop_locked(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        del server  # the only reference: the destructor runs here, synchronously
        if self._port is not None and _port_open(self._port):
            raise RuntimeError(f"llama.cpp still listens on port {self._port} after stop()")

    def _params(self, xllamacpp: ModuleType) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.hostnames = ["127.0.0.1"]
        params.port = self._requested_port or 0  # 0: the OS picks a free port
        params.model_alias = {self.alias}  # a set: llama.cpp accepts several aliases
        params.n_ctx = self.n_ctx
        params.n_parallel = self.n_parallel
        params.n_predict = self.n_predict
        # Without a unified KV cache each slot would get only n_ctx / n_parallel tokens.
        params.kv_unified = True
        params.cpuparams.n_threads = self.n_threads
        params.cpuparams_batch.n_threads = self.n_threads
        params.warmup = False  # a warm-up decode only delays the start
        params.endpoint_slots = True  # used by _wait_ready
        params.verbosity = 3 if self.verbose else 1  # 1: errors only, 3: llama.cpp default
        if self.api_key:
            params.api_keys = [self.api_key]
        if self.embedding:
            params.embedding = True
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        return params

    def _get(self, path: str) -> bytes:
        """GET a path of this server (with the API key), raising ``OSError`` unless 200."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        request = urllib.request.Request(self.endpoint + path, headers=headers)
        with urllib.request.urlopen(request, timeout=2) as response:
            if response.status != HTTPStatus.OK:
                raise OSError(f"HTTP {response.status}")
            return response.read()

    def _wait_ready(self) -> None:
        """Wait until ``/health`` answers 200, then until the task loop serves ``/slots``.

        The second step works around a race in xllamacpp: ``Server()`` returns before its
        background thread has entered llama.cpp's task loop, and if the object is freed in
        that window the loop misses the stop signal and the destructor waits forever.
        ``/slots`` is answered by that loop, so an answer proves it runs; ``/health`` is
        answered by the HTTP thread alone and proves nothing about it.
        """
        deadline = time.monotonic() + self.start_timeout
        for path in ("/health", "/slots"):
            while True:
                try:
                    self._get(path)
                    break
                except OSError as exc:  # refused, or 503 while the model loads
                    if time.monotonic() >= deadline:
                        raise RuntimeError(
                            f"llama.cpp at {self.endpoint} did not get ready within "
                            f"{self.start_timeout}s: GET {path} failed: {exc}"
                        ) from exc
                time.sleep(0.05)

    def _wait_idle(self) -> bool:
        """Wait, at most :attr:`stop_timeout` seconds, until no slot is decoding; answers
        whether that happened."""
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline:
            try:
                slots = json.loads(self._get("/slots"))
            except (OSError, ValueError):
                return False  # nothing to learn; stop anyway
            if not any(slot.get("is_processing") for slot in slots):
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> LocalLlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.endpoint if self.running else "stopped"
        return f"<LocalLlamaServer {self.alias!r} {self.model_path.name} {state}>"


def _hang_up(port: int, timeout: float, *, listener: bool) -> None:
    """Shut down this process's TCP connections on local ``port`` (and, with ``listener``,
    its listening socket), and wait until they are closed.

    These are llama.cpp's clients' connections: a handler whose connection is shut down
    sees its client gone and returns. Once the listener is shut down no request can arrive
    any more (its accept fails and llama.cpp closes it). Sockets accepted meanwhile are
    caught by the next round. Needs Linux's ``/proc``; elsewhere this does nothing.
    ``shutdown()`` on a duplicate descriptor (``fromfd`` duplicates) acts on the shared
    socket, whatever address family ``fromfd`` is told.
    """
    deadline = time.monotonic() + timeout
    while True:
        sockets = [
            (fd, inode) for fd, inode, listens in _sockets_on_port(port) if listener or not listens
        ]
        if not sockets or time.monotonic() > deadline:
            return
        for fd, inode in sockets:
            # Errors: closed meanwhile, or shut down already.
            with contextlib.suppress(OSError), socket.fromfd(fd, AF_INET, SOCK_STREAM) as sock:
                if os.fstat(sock.fileno()).st_ino == inode:  # else the number was reused
                    sock.shutdown(socket.SHUT_RDWR)
        time.sleep(0.02)


def _sockets_on_port(port: int) -> list[tuple[int, int, bool]]:
    """(descriptor, inode, listening) of this process's TCP sockets on local ``port``.

    ``/proc/self/net/tcp*`` lists the sockets of the network namespace with their local
    address and inode; ``/proc/self/fd`` tells which inodes are this process's. Listening
    sockets come first, so that shutting down in this order admits no new connection.
    """
    inodes: dict[int, bool] = {}  # inode -> listening
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            rows = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            # "sl local_address rem_address st ... inode ...", addresses as "HEXIP:HEXPORT"
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes[int(fields[9])] = fields[3] == _TCP_LISTEN
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/self/fd/{name}")
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    inode = int(target[8:-1])
                    found.append((int(name), inode, inodes[inode]))
    return sorted(found, key=lambda fd_inode_listens: not fd_inode_listens[2])


def _port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0
