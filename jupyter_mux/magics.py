"""IPython magics: see and switch the mux's workspace, and ask its model, from a notebook.

`%load_ext jupyter_mux`, then:

    %mux                    the active workspace and its model
    %mux use NAME           make NAME the active workspace
    %mux workspaces         all workspaces, the active one marked
    %mux providers          all providers with their status
    %mux key                the mux keys (by prefix; never their secrets)
    %mux key create NAME [--workspace W] [--expires 30d|ISO-TIME] [--budget USD]
                            make a key; its secret is printed this once
    %mux key revoke ID      revoke a key: its next request gets 401
    %mux setup jupyter-ai   point jupyter-ai 3 (Jupyternaut, %%ai) at the mux; -w pins

    %%mux [-w WORKSPACE] [-m MAX_TOKENS]
    a prompt, answered as Markdown while it streams in, under a line naming the
    provider, model and workspace that answer

The magics are a thin layer over `jupyter_mux.client`, so what they do a script can do with
`MuxClient` and `openai_client`. Failures print the server's explanation rather than a
traceback: in a notebook the message (which says how to fix it) is what the user needs.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import Markdown, display

from .client import (
    MuxAPIError,
    MuxClient,
    MuxServerNotFound,
    ServerInfo,
    Workspace,
    _import_openai,
    openai_client,
)

__all__ = ["MuxMagics", "load_ipython_extension"]

USAGE = (
    "%mux | %mux use NAME | %mux workspaces | %mux providers | %mux key | "
    "%mux key create NAME [--workspace W] [--expires 30d] [--budget USD] | "
    "%mux key revoke ID | %mux setup jupyter-ai [-w WS] | %%mux [-w WS] [-m N]"
)
SETUP_TOOLS = ("jupyter-ai",)
JUPYTER_AI_KEY_NAME = "jupyter-ai"
DURATION = re.compile(r"^(\d+)([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _expiry(text: str) -> str:
    """`--expires`: a duration from now (`90m`, `12h`, `30d`, `2w`), or a time the server
    reads (ISO 8601, UTC unless zoned)."""
    match = DURATION.match(text)
    if match is None:
        return text
    delta = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    return (datetime.now(timezone.utc) + delta).isoformat()


# Redrawing Markdown for every token makes long answers crawl in the browser; a few redraws
# a second look just as live.
UPDATE_INTERVAL = 0.1


def _error(message: str) -> None:
    print(f"mux: {message}", file=sys.stderr)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn the failures a user can act on into one printed line instead of a traceback."""
    try:
        yield
    except MuxAPIError as exc:
        _error(exc.message)
    except MuxServerNotFound as exc:
        _error(str(exc))
    except httpx.HTTPError as exc:
        _error(f"cannot reach the Jupyter server: {exc}")
    except ImportError as exc:
        _error(str(exc))


def _model(workspace: Workspace) -> str:
    preferred = workspace["preferred"]
    return f"{preferred['provider']} / {preferred['model']}" if preferred else "no model chosen"


def _answering(served: dict[str, str | None]) -> str:
    """Who answers, from the mux's X-Mux-* headers: with fallbacks that need not be the
    workspace's preferred model, so the headers, not the workspace, are asked."""
    model = " / ".join(v for v in (served["provider"], served["model"]) if v) or "unknown model"
    workspace = f" (workspace {served['workspace']})" if served["workspace"] else ""
    return f"{model}{workspace} answers:"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: it reads the same in a notebook, a terminal and a log."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _openai_error_message(exc: Exception) -> str:
    """The mux's own message from an OpenAI-format error body, else the SDK's summary."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(exc, "message", None) or exc)


@magics_class
class MuxMagics(Magics):
    """The `%mux` line magic and `%%mux` cell magic (one name, told apart by the cell)."""

    @magic_arguments()
    @argument(
        "-w",
        "--workspace",
        help="cell magic: answer with this workspace's model instead of the active one's; "
        "setup: pin the tool to this workspace.",
    )
    @argument("-m", "--max-tokens", type=int, help="cell magic: the longest answer, in tokens.")
    @argument("--expires", help="key create: a duration (90m, 12h, 30d, 2w) or an ISO time.")
    @argument("--budget", type=float, help="key create: the key's budget in USD.")
    @argument(
        "command",
        nargs="*",
        help="line magic: nothing (show the active workspace), 'use NAME', 'workspaces', "
        "'providers', 'key', 'key create NAME', 'key revoke ID' or 'setup jupyter-ai'.",
    )
    @line_cell_magic
    def mux(self, line: str, cell: str | None = None) -> None:
        """Show and switch the mux's workspaces (%mux), or ask the model (%%mux).

        %mux shows the active workspace and its model; `%mux use NAME` activates NAME;
        `%mux workspaces` and `%mux providers` list them. In a %%mux cell the cell is sent as
        a user prompt through the mux and the answer is shown as Markdown as it streams in.
        """
        args = parse_argstring(self.mux, line)
        if cell is not None:
            if args.command:
                raise UsageError(f"%%mux takes only -w and -m. Usage: {USAGE}")
            if not cell.strip():
                raise UsageError("%%mux needs a prompt in the cell body.")
            self._ask(cell, args.workspace, args.max_tokens)
            return
        if args.command[:1] == ["setup"]:
            if args.max_tokens is not None or len(args.command) != 2:
                raise UsageError(f"%mux setup takes one tool and -w. Usage: {USAGE}")
            if args.command[1] not in SETUP_TOOLS:
                raise UsageError(
                    f"%mux setup knows {', '.join(SETUP_TOOLS)}, not {args.command[1]!r}."
                )
            with _reported():
                self._setup_jupyter_ai(args.workspace)
            return
        creating = args.command[:2] == ["key", "create"]
        if (args.workspace is not None and not creating) or args.max_tokens is not None:
            raise UsageError(f"-w and -m belong to the %%mux cell magic. Usage: {USAGE}")
        if (args.expires is not None or args.budget is not None) and not creating:
            raise UsageError(f"--expires and --budget belong to %mux key create. Usage: {USAGE}")
        if creating:
            if len(args.command) != 3:
                raise UsageError("%mux key create takes one key name: %mux key create NAME")
            expires = None if args.expires is None else _expiry(args.expires)
            action = functools.partial(
                self._create_key, args.command[2], args.workspace, expires, args.budget
            )
        else:
            action = self._line_action(args.command)
        # A client per call finds the server afresh, so a restarted server (new port or
        # token) is picked up without reloading the extension.
        with _reported(), MuxClient() as client:
            action(client)

    def _line_action(self, command: list[str]) -> Callable[[MuxClient], None]:
        """Check the command before any server is looked for, so a typo is reported as such."""
        if command and command[0] == "use":
            if len(command) != 2:
                raise UsageError("%mux use takes one workspace name: %mux use NAME")
            return functools.partial(self._use, command[1])
        if command[:2] == ["key", "revoke"]:
            if len(command) != 3:
                raise UsageError("%mux key revoke takes one key id: %mux key revoke ID")
            return functools.partial(self._revoke_key, command[2])
        actions = {
            ("key",): self._show_keys,
            (): self._show_active,
            ("workspaces",): self._show_workspaces,
            ("providers",): self._show_providers,
        }
        if tuple(command) not in actions:
            raise UsageError(f"unknown %mux command {' '.join(command)!r}. Usage: {USAGE}")
        return actions[tuple(command)]

    @staticmethod
    def _use(name: str, client: MuxClient) -> None:
        name = client.activate(name)
        print(f"Active workspace is now {name} ({_model(client.workspace(name))}).")

    @staticmethod
    def _show_active(client: MuxClient) -> None:
        workspaces = client.workspaces()
        active = next((w for w in workspaces if w["is_active"]), None)
        if active is None:  # the server always has one; a stale answer is the only way here
            print(f"Active workspace: {client.active()}")
            return
        print(f"Active workspace: {active['name']} ({_model(active)})")
        if active["problem"]:
            print(f"Problem: {active['problem']}")

    @staticmethod
    def _show_workspaces(client: MuxClient) -> None:
        rows = [
            ("*" if w["is_active"] else "", w["name"], _model(w), w["problem"])
            for w in client.workspaces()
        ]
        print(_table(("", "workspace", "model", "problem"), rows) if rows else "No workspaces.")

    @staticmethod
    def _show_providers(client: MuxClient) -> None:
        rows = [
            (p["name"], p["type"], p["status"], len(p["models"]), p["error"])
            for p in client.providers()
        ]
        headers = ("provider", "type", "status", "models", "error")
        print(_table(headers, rows) if rows else "No providers.")

    @staticmethod
    def _show_keys(client: MuxClient) -> None:
        rows = [
            (
                k["id"],
                k["name"],
                k["prefix"] + "…",
                k["workspace"] or "(any)",
                k["expires_at"] or "never",
                "" if k["budget_usd"] is None else f"{k['spent_usd']:.4g} / {k['budget_usd']:g}",
                k["last_used_at"] or "never",
            )
            for k in client.keys()  # noqa: SIM118 (the API, not a dict)
        ]
        headers = ("id", "name", "key", "workspace", "expires", "spent / budget USD", "last used")
        print(_table(headers, rows) if rows else "No mux keys.")

    @staticmethod
    def _create_key(
        name: str,
        workspace: str | None,
        expires: str | None,
        budget: float | None,
        client: MuxClient,
    ) -> None:
        key = client.create_key(name, workspace=workspace, expires_at=expires, budget_usd=budget)
        print(f"Created mux key {key['name']!r} (id {key['id']}). Its secret, shown this once:")
        print(f"    {key['secret']}")

    @staticmethod
    def _revoke_key(key_id: str, client: MuxClient) -> None:
        client.revoke_key(key_id)
        print(f"Revoked mux key {key_id}.")

    def _setup_jupyter_ai(self, workspace: str | None) -> None:
        """Write jupyter-ai's configuration for the mux (setup_tools.py), and give this
        kernel the `mux` alias at once."""
        from .client import find_server
        from .setup_tools import JUPYTER_AI_ALIAS, setup_jupyter_ai

        server = find_server()
        with MuxClient(server.url, server.token) as client:
            if workspace is not None:
                workspace = client.workspace(workspace)["name"]  # 404 for a typo
            # Jupyternaut runs in the server and keeps its key in its config: a mux key of
            # its own (the one made before revoked), never the Jupyter token, and not the
            # kernels' key, which the server replaces at every start.
            for old in client.keys():  # noqa: SIM118 (the API, not a dict)
                if old["name"] == JUPYTER_AI_KEY_NAME:
                    client.revoke_key(old["id"])
            key = client.create_key(JUPYTER_AI_KEY_NAME, workspace=workspace)["secret"]
        api_base = server.url + (f"mux/w/{workspace}/v1" if workspace else "mux/v1")
        done = setup_jupyter_ai(api_base, key, profile_dir=self.shell.profile_dir.location)
        for path in done.files:
            print(f"wrote {path}")
        for note in done.notes:
            print(note)
        alias = {"target": "openai/mux", "api_base": api_base, "api_key_name": None}
        self.shell.config.AiMagics.initial_aliases = {
            **self.shell.config.AiMagics.get("initial_aliases", {}),
            JUPYTER_AI_ALIAS: alias,
        }
        loaded = self.shell.magics_manager.registry.get("AiMagics")
        if loaded is not None:  # already loaded in this kernel: it copied its aliases
            loaded.aliases[JUPYTER_AI_ALIAS] = alias
        if not _kernel_sends_a_mux_key(server):
            print(
                "This kernel's OPENAI_API_KEY is not the mux's: set it to the mux's key "
                "for `%%ai` (Jupyternaut has its key in its config)."
            )

    def _ask(self, prompt: str, workspace: str | None, max_tokens: int | None) -> None:
        """Stream the answer into one display that is redrawn in place."""
        with _reported():
            openai = _import_openai()
            options: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
            text = ""
            handle = None
            served: dict[str, str | None] = {}
            try:
                with (
                    openai_client(workspace, max_retries=0) as client,
                    client.chat.completions.with_streaming_response.create(
                        model="mux",  # a placeholder: the workspace chooses the model
                        messages=[{"role": "user", "content": prompt}],
                        stream=True,
                        **options,
                    ) as response,
                ):
                    # Shown only once the mux has accepted the request, so a refusal (no
                    # model chosen, unknown workspace) leaves just its message.
                    served = {
                        k: response.headers.get(f"x-mux-{k}")
                        for k in ("workspace", "provider", "model")
                    }
                    print(_answering(served))
                    handle = display(Markdown("…"), display_id=True)
                    shown = time.monotonic()
                    for chunk in response.parse():
                        text += "".join(c.delta.content or "" for c in chunk.choices)
                        if time.monotonic() - shown >= UPDATE_INTERVAL:
                            handle.update(Markdown(text))
                            shown = time.monotonic()
            except openai.APIConnectionError as exc:
                cause = f": {exc.__cause__}" if exc.__cause__ else ""
                _error(f"cannot reach the mux at {exc.request.url}{cause}")
            except openai.APIError as exc:
                _error(_openai_error_message(exc))
            finally:
                if handle is not None:
                    # Which model answered travels in the output's metadata, for tools that
                    # read notebooks; the answer itself stays the model's words.
                    final = text or "*(no answer)*"
                    handle.update(Markdown(final, metadata={"jupyter_mux": served}))


def _kernel_sends_a_mux_key(server: ServerInfo) -> bool:
    """Whether this kernel's OPENAI_API_KEY (what `%%ai` sends) gets through this mux: the
    key the server exported with OPENAI_BASE_URL, or the server's own token."""
    base = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
    env_key = os.environ.get("OPENAI_API_KEY", "")
    return bool(env_key) and (base == server.url + "mux/v1" or env_key == server.token)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_mux`: register the `%mux` / `%%mux` magics."""
    ipython.register_magics(MuxMagics)
