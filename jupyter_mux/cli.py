"""The `jupyter mux` command line: its subcommands, its help, and the checks that must come
before any start-up work.

Jupyter parses the options itself (every `jupyter server` option works), so this module only
maps the subcommands onto them and says, in `--help`, what a first run needs to know: which
subcommands exist, which port is used and how to pick one, and what running as root takes.
"""

from __future__ import annotations

import os
import sys

DESCRIPTION = """Model muxing for Jupyter: one OpenAI-compatible URL, <server>/mux/v1, whose
model is chosen by the active workspace.

Subcommands:
    jupyter mux [options]         start Jupyter with the mux (and every installed
                                  extension, JupyterLab included)
    jupyter mux demo [options]    the same, plus two tiny local demo models (demo-a and
                                  demo-b, a workspace for each): no API key, no download
    jupyter-mux hub-service [--config=FILE]
                                  the mux alone, as a JupyterHub service for every Hub
                                  user (pip install "jupyter-mux[hub]"; see
                                  docs/deployment.md)

Port: the server listens on port 8888, or on the next free one when 8888 is taken, and
prints the mux URL it uses ("Jupyter Mux: http://localhost:8889/mux/v1"). Pick the port
with --port=N; --ip, --no-browser and every other option of `jupyter server` work too
(`jupyter server --help-all` lists them).

As root (for example in a container), Jupyter starts only with --allow-root.
"""

EXAMPLES = """
jupyter mux demo                        # try it: two local models, no key
jupyter mux demo --port=9000            # the mux is then http://localhost:9000/mux/v1
jupyter mux --no-browser                # no browser; the mux URL is printed
jupyter mux demo --allow-root --ip=0.0.0.0 --no-browser   # as root in a container
"""

# Flags that print or write something and stop before the server starts: no root check.
_STOPPING_FLAGS = ("-h", "--help", "--help-all", "--version", "-V", "--generate-config")

ROOT_REFUSED = """jupyter mux: you are running as root, and Jupyter refuses to run as root
unless told to. Nothing was started or written. If that is what you want (for example in a
container), add --allow-root:

    jupyter mux{subcommand} --allow-root{options}

or set c.ServerApp.allow_root = True in your Jupyter configuration. Otherwise run it as a
normal user."""


def _root_refused(args: list[str]) -> bool:
    """Whether Jupyter would stop on "Running as root is not recommended" — which it says
    only after loading every extension, the demo's models included — from the command line
    and the configuration files, read as Jupyter reads them."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    from jupyter_core.application import JupyterApp
    from jupyter_server.serverapp import ServerApp

    probe = ServerApp()
    # JupyterApp's own initialize: the command line and the configuration files, none of
    # what ServerApp.initialize does next (extensions, runtime files, sockets).
    JupyterApp.initialize(probe, args)
    return not probe.allow_root


def main(argv: list[str] | None = None) -> None:
    """`jupyter mux [options]`, `jupyter mux demo [options]`, `jupyter mux --help`."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["hub-service"]:
        _hub_service(args[1:])
        return
    subcommand = ""
    if args[:1] == ["demo"]:
        subcommand, args = " demo", ["--MuxApp.demo=True", *args[1:]]
    if not any(flag in args for flag in _STOPPING_FLAGS) and _root_refused(args):
        options = "".join(f" {a}" for a in args if a != "--MuxApp.demo=True")
        print(ROOT_REFUSED.format(subcommand=subcommand, options=options), file=sys.stderr)
        sys.exit(1)
    from .app import MuxApp

    MuxApp.launch_instance(args)


def _hub_service(args: list[str]) -> None:
    """No root check here: the service's own Jupyter server refuses root without
    --allow-root, and it runs no user code; it does need jupyterhub."""
    try:
        from .hub.app import main as hub_main
    except ImportError as exc:
        print(
            f'jupyter-mux hub-service needs JupyterHub ({exc}): pip install "jupyter-mux[hub]"',
            file=sys.stderr,
        )
        sys.exit(1)
    hub_main(args)
