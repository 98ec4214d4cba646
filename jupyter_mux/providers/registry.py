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
    # The client dialects it serves natively (see NATIVE): their requests and answers
    # pass through untouched but for auth and model, so nothing is lost in translation.
    native: frozenset[str] = frozenset()

    def as_dict(self) -> dict:
        data = asdict(self)
        data["auth_types"] = list(self.auth_types)
        del data["wire"]
        data["native"] = sorted(self.native)
        return data


BOTH = ("none", "api_key")

# What each server documents that it serves, by client dialect ("fim" is the legacy
# /v1/completions). vLLM and LM Studio serve chat, completions, Responses, embeddings and
# Anthropic's Messages (at /v1/messages); llama.cpp's server all but Responses, which it
# serves too, but its stream leaves out `sequence_number`, `output_index` and
# `content_index`, without which the openai SDK's `responses.stream()` fails: a Responses
# request to it is translated (to chat) so that clients get the whole event sequence.
# The "openai" type also
# stands for any OpenAI-compatible API, many of which lack /v1/responses, so it (like
# OpenRouter) passes through only chat, completions and embeddings, and a Responses request
# to it is translated to chat. Anthropic serves Messages. Ollama is spoken to in its native
# API, which is none of the client dialects: every request to it is translated.
OPENAI_API = frozenset({"chat", "fim", "embeddings"})
LOCAL_SERVER = OPENAI_API | {"responses", "messages"}
LLAMACPP = OPENAI_API | {"messages"}

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
            frozenset({"messages"}),
        ),
        ProviderType(
            "llamacpp", "llama.cpp", "http://localhost:8080", "none", BOTH, "openai", LLAMACPP
        ),
        ProviderType(
            "lmstudio", "LM Studio", "http://localhost:1234", "none", BOTH, "openai", LOCAL_SERVER
        ),
        ProviderType("ollama", "Ollama", "http://localhost:11434", "none", BOTH, "ollama"),
        ProviderType(
            "openai",
            "OpenAI (and compatible APIs)",
            "https://api.openai.com",
            "api_key",
            BOTH,
            "openai",
            OPENAI_API,
        ),
        ProviderType(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api",
            "api_key",
            ("api_key",),
            "openai",
            OPENAI_API,
        ),
        ProviderType("vllm", "vLLM", "http://localhost:8000", "none", BOTH, "openai", LOCAL_SERVER),
    )
}
