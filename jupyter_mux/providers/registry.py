"""The provider types the mux knows, with the defaults the UI pre-fills."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class ProviderType:
    type: str
    label: str
    default_endpoint: str
    default_auth: str
    auth_types: tuple[str, ...]
    # Which wire-format module speaks to it: "openai", "anthropic" or "ollama".
    wire: str

    def as_dict(self) -> dict:
        data = asdict(self)
        data["auth_types"] = list(self.auth_types)
        del data["wire"]
        return data


BOTH = ("none", "api_key")

PROVIDER_TYPES: dict[str, ProviderType] = {
    t.type: t
    for t in (
        ProviderType(
            "anthropic",
            "Anthropic",
            "https://api.anthropic.com",
            "api_key",
            ("api_key",),
            "anthropic",
        ),
        ProviderType("llamacpp", "llama.cpp", "http://localhost:8080", "none", BOTH, "openai"),
        ProviderType("lmstudio", "LM Studio", "http://localhost:1234", "none", BOTH, "openai"),
        ProviderType("ollama", "Ollama", "http://localhost:11434", "none", BOTH, "ollama"),
        ProviderType(
            "openai",
            "OpenAI (and compatible APIs)",
            "https://api.openai.com",
            "api_key",
            BOTH,
            "openai",
        ),
        ProviderType(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api",
            "api_key",
            ("api_key",),
            "openai",
        ),
        ProviderType("vllm", "vLLM", "http://localhost:8000", "none", BOTH, "openai"),
    )
}
