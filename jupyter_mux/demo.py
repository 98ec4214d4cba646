"""The no-key demo (`jupyter mux demo`): two tiny local models, served by llama.cpp inside
the Jupyter process, registered as providers, with a workspace preferring each, so that a
brand-new user sees the mux answer — and a workspace switch change the answering model —
without an API key or a download."""

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


DEMO_MODELS = (
    DemoModel("demo-a", "tiny-a", "demo-a", seed=1),
    DemoModel("demo-b", "tiny-b", "demo-b", seed=2),
)
DESCRIPTION = "Tiny random-weight model served locally by llama.cpp (jupyter mux demo)."


class Demo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.servers: list[LocalLlamaServer] = []

    def start(self) -> list[dict[str, Any]]:
        """Start the model servers; returns them as provider definitions. The model files
        are written once and reused, so a restart serves the same models."""
        self.folder.mkdir(parents=True, exist_ok=True)
        providers = []
        for demo in DEMO_MODELS:
            path = self.folder / f"{demo.model}.gguf"
            if not path.exists():
                write_tiny_model(path, seed=demo.seed)
            server = LocalLlamaServer(path, alias=demo.model).start()
            self.servers.append(server)
            providers.append(
                {
                    "name": demo.provider,
                    "type": "llamacpp",
                    "endpoint": server.endpoint,
                    "description": DESCRIPTION,
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
