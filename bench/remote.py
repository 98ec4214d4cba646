"""Remote mode's added latency (issue 15): a user's server forwarding `<server>/mux/...` to
the JupyterHub service, against the extension serving the mux itself.

On loopback, all in front of the same zero-latency upstream (upstream.py): a real JupyterHub
(PyPI's jupyterhub, configurable-http-proxy on PATH, DummyAuthenticator and
SimpleLocalProcessSpawner) with the mux as its managed service and one user's server in
remote mode (`JUPYTER_MUX_HUB_SERVICE`), beside the local extension (`jupyter mux`, as in
run.py). Columns, each a way for a client to reach the upstream:

- direct: the upstream itself;
- local: the extension in a plain Jupyter server (run.py's `mux`);
- remote: the user's server on its own port, the URL its kernels get (`export_env`), which
  forwards to the service's own URL as the Hub's API gives it (no proxy on either hop);
- remote+proxy: the same through the Hub's proxy, as a browser or an outside client;
- service+proxy: `/services/mux/mux/v1` through the Hub's proxy, with the user's Hub token;
- service: the service on its own port, what the remote server's forwarding reaches.

Rows: p50 and p99 at one connection of whole (non-streamed) chat answers, by wrk as in
run.py, and the first streamed chunk's p50, one stream at a time (run.stream_timings), each
with what it adds over direct; and the CPU time per request of the mux processes each
request passes (the local server; the user's server and the service), from /proc. Rounds
take turns as in run.py. Run alone:
python bench/remote.py (starts its own upstream and local mux; BENCH_SECONDS, BENCH_ROUNDS,
BENCH_STREAMS as in run.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dialects
import httpx

HERE = Path(__file__).parent
ROOT = HERE.parent
SERVICE = "mux"
USER = "bench"
# A second user under a daily budget: the service holds and settles it on every request
# (one more database transaction each way), against `service` for the same user unlimited.
BUDGETED = "bench-budgeted"
MODEL = "bench-model"
START_TIMEOUT = 180.0
ANSWER = "Hello from the bench."
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}


def unavailable() -> str | None:
    """Why this section cannot run here, if it cannot."""
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "jupyterhub is not installed (pip install 'jupyter-mux[hub]')"
    if shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy is not on PATH (npm install -g configurable-http-proxy)"
    return None


def _hub_config(tmp: Path, ports: dict[str, int], admin_token: str, service_config: Path) -> str:
    """The Hub of test_hub_service.py's fixture, cut to one user: the service reached with
    the user's token, the user's server finding the service through the Hub's API."""
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    service_cmd = [
        sys.executable,
        "-m",
        "jupyter_mux",
        "hub-service",
        f"--config={service_config}",
        *root,
    ]
    # A managed service gets few of the Hub's variables: these keep Jupyter's files here.
    service_env = {
        f"JUPYTER_{kind.upper()}_DIR": str(tmp / f"service-{kind}")
        for kind in ("config", "data", "runtime")
    }
    scopes = [f"access:services!service={SERVICE}", f"read:services!service={SERVICE}"]
    import run

    # The user's server as lean as run.py's local one (the mux enabled here, as its own
    # install would): the figures compare the hop, not the environment's extensions.
    lean_env, lean_args = run.lean_server("jupyter_mux")
    server_args = [*root, *lean_args]
    server_env = {"JUPYTER_MUX_HUB_SERVICE": SERVICE, **lean_env}
    return f"""
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {ports["proxy"]}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {ports["hub"]}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.command = [{shutil.which("configurable-http-proxy")!r}]
c.JupyterHub.db_url = "sqlite:///{tmp / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = "{tmp / "cookie_secret"}"
c.JupyterHub.pid_file = "{tmp / "jupyterhub.pid"}"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.Authenticator.allowed_users = {{{USER!r}, {BUDGETED!r}}}
c.Authenticator.admin_users = {{"admin"}}
c.JupyterHub.api_tokens = {{{admin_token!r}: "admin"}}
c.JupyterHub.services = [
    {{
        "name": {SERVICE!r},
        "url": "http://127.0.0.1:{ports["service"]}",
        "command": {service_cmd!r},
        "environment": {service_env!r},
    }}
]
c.JupyterHub.load_roles = [
    {{"name": "user", "scopes": ["self", *{scopes!r}]}},
    {{"name": "server", "scopes": ["users:activity!user", "access:servers!server", *{scopes!r}]}},
]
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {server_args!r}
c.Spawner.port = {ports["server"]}
c.Spawner.environment = {server_env!r}
c.Spawner.http_timeout = {START_TIMEOUT!r}
c.Spawner.start_timeout = {START_TIMEOUT!r}
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / "home" / "{username}")!r}
"""


def _until(what: str, check: Any, proc: subprocess.Popen, log: Path) -> None:
    """Poll `check` (real requests) until it is true; the Hub's log if it died or never."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterHub exited before {what}:\n{log.read_text()[-5000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}:\n{log.read_text()[-5000:]}")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes used so far."""
    return sum(dialects.cpu_seconds(pid) for pid in pids)


def start_hub(
    stack: contextlib.ExitStack, tmp: Path, up_port: int
) -> tuple[list[Any], dict[str, int]]:
    """The Hub, its proxy, the service and the user's server in remote mode, stopped with
    `stack`: the five Hub targets (run.Target), a user's Hub token in their headers, and
    the pids of the user's server and the service."""
    import run  # bench/run.py: process(), free_port(), Target
    from cryptography.fernet import Fernet

    tmp.mkdir()
    ports = {name: run.free_port() for name in ("proxy", "proxy_api", "hub", "service", "server")}
    service_config = tmp / "mux_config.py"
    service_config.write_text(
        f"""
c.MuxApp.db_url = "sqlite:///{tmp / "mux" / "mux.sqlite"}"
c.MuxApp.encryption_key = {Fernet.generate_key().decode()!r}
c.MuxApp.providers = [
    {{"name": "bench", "type": "vllm", "endpoint": "http://127.0.0.1:{up_port}"}}
]
c.HubServiceApp.policies = {{"users": {{{BUDGETED!r}: {{"usd_per_day": 1000000.0}}}}}}
"""
    )
    admin_token = secrets.token_hex(16)
    hub_config = tmp / "jupyterhub_config.py"
    hub_config.write_text(_hub_config(tmp, ports, admin_token, service_config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    # This checkout's jupyter_mux in the Hub's children (the service, the user's server).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for kind in ("config", "data", "runtime"):
        env[f"JUPYTER_{kind.upper()}_DIR"] = str(tmp / f"jupyter-{kind}")
    log = tmp / "jupyterhub.log"
    with log.open("wb") as out:
        proc = stack.enter_context(
            run.process(
                [sys.executable, "-m", "jupyterhub", "-f", str(hub_config)],
                cwd=tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    hub = f"http://127.0.0.1:{ports['proxy']}"
    admin = {"Authorization": f"token {admin_token}"}

    def hub_api(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{hub}/hub/api/{path}", headers=admin, timeout=30, **kwargs)

    _until("the Hub's API", lambda: hub_api("GET", "").status_code == 200, proc, log)
    made = hub_api("POST", f"users/{USER}/tokens", json={"note": "bench"})
    made.raise_for_status()
    auth = {"Authorization": f"token {made.json()['token']}"}
    service = f"{hub}/services/{SERVICE}/mux"
    # The user's default workspace on the bench provider, once the service has found its
    # model (it discovers it after start).
    preferred = {"preferred": {"provider": "bench", "model": MODEL}}
    _until(
        "the mux service",
        lambda: (
            httpx.patch(
                f"{service}/api/workspaces/default", json=preferred, headers=auth, timeout=10
            ).status_code
            == 200
        ),
        proc,
        log,
    )
    # The budgeted user's model has a price, so each request holds and spends something.
    budgeted = hub_api("POST", f"users/{BUDGETED}/tokens", json={"note": "bench"})
    budgeted.raise_for_status()
    budget_auth = {"Authorization": f"token {budgeted.json()['token']}"}
    price = {"model": MODEL, "prompt_per_million": 1, "completion_per_million": 1}
    httpx.put(
        f"{service}/api/admin/providers/bench/prices", json=price, headers=admin, timeout=30
    ).raise_for_status()
    httpx.patch(
        f"{service}/api/workspaces/default", json=preferred, headers=budget_auth, timeout=30
    ).raise_for_status()
    hub_api("POST", f"users/{USER}/server").raise_for_status()
    server = f"user/{USER}/mux/v1/chat/completions"
    _until(
        "the user's server",
        lambda: hub_api("GET", f"users/{USER}").json()["servers"].get("", {}).get("ready"),
        proc,
        log,
    )

    def stop_server() -> None:
        """Before the Hub stops (it would stop the server too, given the time)."""
        with contextlib.suppress(httpx.HTTPError):
            hub_api("DELETE", f"users/{USER}/server")

    stack.callback(stop_server)
    own_port = f"http://127.0.0.1:{ports['service']}/services/{SERVICE}/mux/v1/chat/completions"
    targets = [
        run.Target("remote", f"http://127.0.0.1:{ports['server']}/{server}", auth),
        run.Target("remote+proxy", f"{hub}/{server}", auth),
        run.Target("service+proxy", f"{service}/v1/chat/completions", auth),
        run.Target("service", own_port, auth),
        run.Target("budgeted", own_port, budget_auth),
    ]
    for target in targets:
        answer = httpx.post(target.url, json=CHAT, headers=target.headers, timeout=60)
        if answer.status_code != 200 or ANSWER not in answer.text:
            raise RuntimeError(
                f"{target.name} ({target.url}) answered {answer.status_code}: "
                f"{answer.text[:500]}\n{log.read_text()[-5000:]}"
            )
    # The user's server from the spawner's state (admin sees it); the service from the
    # runtime file Jupyter writes at its start.
    state = hub_api("GET", f"users/{USER}").json()["servers"][""]["state"]
    (info,) = (tmp / "service-runtime").glob("jpserver-*.json")
    pids = {"server": int(state["pid"]), "service": int(json.loads(info.read_text())["pid"])}
    return targets, pids


def measure(tmp: Path, up_port: int, local: Any, local_pid: int) -> list[Any]:
    """Start the Hub side in `tmp`, measure every column and stop the Hub side again (the
    rest of run.py does not share the cores with it): the targets (run.Target) with their
    wrk runs at one connection, stream timings, and in `streams["cpu"]` and
    `streams["server_cpu"]` the CPU per request (us) of the mux processes on the way and of
    the user's server alone. `local` is run.py's mux target, `local_pid` its process.

    CPU time, unlike latency, hardly moves with what else runs on the machine: it says
    where the remote hop's cost goes when the latencies are noisy."""
    import asyncio

    import run

    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    streams = int(os.environ.get("BENCH_STREAMS", "200"))
    direct = run.Target("direct", f"http://127.0.0.1:{up_port}/v1/chat/completions", {})
    local = run.Target("local", local.url, local.headers)
    with contextlib.ExitStack() as stack:
        hub_targets, pids = start_hub(stack, tmp, up_port)
        targets = [direct, local, *hub_targets]
        server, service = [pids["server"]], [pids["service"]]
        on_the_way = {"local": [local_pid], "remote": server + service}
        on_the_way |= {"remote+proxy": server + service, "service+proxy": service}
        on_the_way["service"] = on_the_way["budgeted"] = service
        used: dict[str, list[float]] = {t.name: [0.0, 0.0, 0.0] for t in targets}
        for target in targets:
            run.wrk(target.url, 1, min(seconds, 2), target.headers)  # warm-up
            target.runs[1] = []
        for _ in range(rounds):  # taking turns, as run.measure
            for target in targets:
                mine = on_the_way.get(target.name, [])
                before = cpu_seconds(mine), cpu_seconds(server)
                result = run.wrk(target.url, 1, seconds, target.headers)
                target.runs[1].append(result)
                spent = used[target.name]
                spent[0] += cpu_seconds(mine) - before[0]
                spent[1] += cpu_seconds(server) - before[1]
                spent[2] += result["requests"]
        for target in targets:
            target.streams = asyncio.run(run.stream_timings(target.url, target.headers, streams))
            cpu, server_cpu, requests = used[target.name]
            target.streams["cpu"] = cpu / max(requests, 1) * 1e6
            target.streams["server_cpu"] = server_cpu / max(requests, 1) * 1e6
    return targets


def print_rows(targets: list[Any]) -> None:
    direct = targets[0]
    width = 14
    print("\nremote mode" + " " * 19 + "".join(f"{t.name:>{width}}" for t in targets))

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<30}" + "".join(f"{v:>{width}}" for v in values))

    for key in ("p50", "p99"):
        row(f"{key} ms, 1 conn", [f"{t.median(1, key):.2f}" for t in targets])
        row(
            f"  added {key} ms",
            ["-"] + [f"{t.median(1, key) - direct.median(1, key):.2f}" for t in targets[1:]],
        )
    first = [t.streams["ttft_p50"] for t in targets]
    row("first chunk p50 ms", [f"{ms:.2f}" for ms in first])
    row("  added first chunk ms", ["-"] + [f"{ms - first[0]:.2f}" for ms in first[1:]])
    row(
        "mux CPU us/request",
        ["-"] + [f"{t.streams['cpu']:.0f}" for t in targets[1:]],
    )
    row(
        "  of it the user's server",
        ["-", "-"] + [f"{t.streams['server_cpu']:.0f}" for t in targets[2:4]] + ["-"] * 3,
    )
    row("requests", [f"{sum(r['requests'] for r in t.runs[1]):,.0f}" for t in targets])
    row("non-2xx answers", [f"{t.errors():.0f}" for t in targets])


def main() -> None:
    import run  # bench/run.py: the same servers as the main benchmark

    why = unavailable()
    if why is not None:
        sys.exit(f"remote mode benchmark: {why}")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with contextlib.ExitStack() as stack:
        up_port, tmp, mux, through = run.start_servers(stack)
        targets = measure(tmp / "hub", up_port, through, mux.pid)
    print_rows(targets)


if __name__ == "__main__":
    main()
