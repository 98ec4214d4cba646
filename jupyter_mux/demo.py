"""The no-key demo (`jupyter mux demo`): two tiny local models, served by llama.cpp inside
the Jupyter process, registered as providers, with a workspace preferring each, so that a
brand-new user sees the mux answer — and a workspace switch change the answering model —
without an API key or a download. The models are random, so what they say is meaningless;
each says words of its own theme (ocean, forest), so which one answered shows at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .localmodel import LocalLlamaServer, write_tiny_model
from .store import TargetRecord


@dataclass(frozen=True)
class DemoModel:
    provider: str
    model: str
    workspace: str
    seed: int
    vocabulary: str


DEMO_MODELS = (
    DemoModel("demo-a", "tiny-a", "demo-a", seed=1, vocabulary="ocean"),
    DemoModel("demo-b", "tiny-b", "demo-b", seed=2, vocabulary="forest"),
)


def description(demo: DemoModel) -> str:
    return (
        f"Tiny random-weight model served locally by llama.cpp (jupyter mux demo); "
        f"it answers in random {demo.vocabulary} words."
    )


class Demo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.servers: list[LocalLlamaServer] = []

    def start(self) -> list[dict[str, Any]]:
        """Start the model servers; returns them as provider definitions. The model files
        are written at every start (a fraction of a second, the same bytes for the same
        seed), so a newer jupyter-mux never serves the models an older one left behind."""
        self.folder.mkdir(parents=True, exist_ok=True)
        providers = []
        for demo in DEMO_MODELS:
            path = write_tiny_model(
                self.folder / f"{demo.model}.gguf", seed=demo.seed, vocabulary=demo.vocabulary
            )
            server = LocalLlamaServer(path, alias=demo.model).start()
            self.servers.append(server)
            providers.append(
                {
                    "name": demo.provider,
                    "type": "llamacpp",
                    "endpoint": server.endpoint,
                    "description": description(demo),
                }
            )
        return providers

    @staticmethod
    def workspaces() -> list[tuple[str, TargetRecord]]:
        return [(d.workspace, TargetRecord(d.provider, d.model)) for d in DEMO_MODELS]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
