"""Point other AI tools at the mux by writing their own configuration (`%mux setup TOOL`).

Each function here writes one tool's configuration files and nothing else: it knows where
the tool reads its settings and in which shape, and merges the mux's entry into what is
there, so the user's other settings survive and running it twice changes nothing.

jupyter-ai 3 (`pip install "jupyter-ai[jupyternaut,magics]"`) reads two places:

* **Jupyternaut** (the `jupyter_ai_jupyternaut` server extension) keeps its settings in
  `<jupyter data dir>/jupyter_ai/config.json` (`ConfigManager.config_path`): custom models
  (`custom_models`: name, LiteLLM model ID, parameters passed to LiteLLM such as
  `api_base` and `api_key`), the default model (`model_provider_id`) and the parameters
  per model ID (`fields`). The server re-reads the file when it changes.
* **The `%%ai` magics** (`jupyter_ai_magic_commands`) take model aliases from IPython's
  configuration, `c.AiMagics.initial_aliases` (`{name: {target, api_base,
  api_key_name}}`), and the default model from `c.AiMagics.initial_language_model`. A
  kernel reads them from `ipython_kernel_config.json` in its IPython profile. LiteLLM's
  `openai/` models take their key from `OPENAI_API_KEY` in the kernel's environment.

Both use LiteLLM's OpenAI-compatible provider with the model ID `openai/mux`: LiteLLM
sends the part after `openai/` as the model name, a placeholder the workspace overrides.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "JUPYTER_AI_ALIAS",
    "JUPYTER_AI_MODEL_ID",
    "JUPYTER_AI_MODEL_NAME",
    "Setup",
    "jupyternaut_config_path",
    "setup_jupyter_ai",
]

JUPYTER_AI_MODEL_ID = "openai/mux"  # LiteLLM: OpenAI-compatible provider, model "mux"
JUPYTER_AI_MODEL_NAME = "Model Mux"  # the name Jupyternaut's model picker shows
JUPYTER_AI_ALIAS = "mux"  # `%%ai mux`


@dataclass
class Setup:
    """What a setup wrote (`files`) and what the user should know or do next (`notes`)."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def jupyternaut_config_path() -> Path:
    """Where Jupyternaut reads its settings unless `ConfigManager.config_path` is set:
    the same default as jupyter_ai_jupyternaut's, without importing it."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_ai" / "config.json"


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; {} when the file is missing or empty. A file that is not
    a JSON object is refused rather than overwritten: it is the user's."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or remove it first") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; fix or remove it first")
    return data


def _write_json(path: Path, data: dict[str, Any], *, private: bool) -> None:
    """Write `data` atomically; `private` files (they hold a key) are made mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(tmp, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=4)
        file.write("\n")
    os.replace(tmp, path)


def _jupyternaut(config: dict[str, Any], api_base: str, api_key: str) -> dict[str, Any]:
    """Jupyternaut's config with the mux as a custom model (first in the picker), the
    parameters for `openai/mux`, and the mux as default model when none is chosen."""
    params = {"api_base": api_base, "api_key": api_key}
    models = [m for m in config.get("custom_models") or [] if isinstance(m, dict)]
    ours = next((m for m in models if m.get("name") == JUPYTER_AI_MODEL_NAME), None)
    # Keep the generated ID across runs: chats remember the model they picked by it.
    model_id = ours.get("id") if ours else None
    if not isinstance(model_id, str) or not model_id.startswith("custom-"):
        model_id = f"custom-{uuid.uuid4()}/{JUPYTER_AI_MODEL_ID}"
    entry = {
        "id": model_id,
        "name": JUPYTER_AI_MODEL_NAME,
        "description": "The active jupyter-mux workspace's model",
        "model_id": JUPYTER_AI_MODEL_ID,
        "params": params,
    }
    config["custom_models"] = [entry] + [m for m in models if m is not ours]
    fields = config.get("fields") if isinstance(config.get("fields"), dict) else {}
    fields[JUPYTER_AI_MODEL_ID] = dict(params)
    config["fields"] = fields
    if not config.get("model_provider_id"):
        config["model_provider_id"] = JUPYTER_AI_MODEL_ID
    return config


def _magics(config: dict[str, Any], api_base: str) -> dict[str, Any]:
    """An IPython kernel config with the `mux` alias for `%%ai` (and `%%ai` alone meaning
    it, unless the user chose another default)."""
    section = config.get("AiMagics") if isinstance(config.get("AiMagics"), dict) else {}
    aliases = section.get("initial_aliases")
    aliases = aliases if isinstance(aliases, dict) else {}
    aliases[JUPYTER_AI_ALIAS] = {
        "target": JUPYTER_AI_MODEL_ID,
        "api_base": api_base,
        # The key comes from OPENAI_API_KEY. jupyter-ai's `api_key_name` is left unset:
        # jupyter_ai_magic_commands 0.0.4 hands the key's value to LiteLLM as an unknown
        # argument (`api_key_name=...`) instead of as the key.
        "api_key_name": None,
    }
    section["initial_aliases"] = aliases
    if not section.get("initial_language_model"):
        section["initial_language_model"] = JUPYTER_AI_ALIAS
    config["AiMagics"] = section
    return config


def setup_jupyter_ai(
    api_base: str,
    api_key: str,
    *,
    profile_dir: str | os.PathLike[str],
    jupyternaut_config: str | os.PathLike[str] | None = None,
) -> Setup:
    """Point jupyter-ai 3's Jupyternaut and `%%ai` magics at the mux.

    `api_base` is the mux's OpenAI URL (`<server>/mux/v1`, or `<server>/mux/w/<ws>/v1` to
    pin a workspace) and `api_key` what authenticates to it. Writes Jupyternaut's config
    (`jupyternaut_config`, by default `jupyternaut_config_path()`; mode 0600, as it holds
    the key) and `ipython_kernel_config.json` in the IPython `profile_dir`, merging into
    what is there. The key is never written to the kernel config: `%%ai` reads it from
    `OPENAI_API_KEY`.
    """
    done = Setup()
    naut_path = Path(jupyternaut_config) if jupyternaut_config else jupyternaut_config_path()
    naut = _jupyternaut(_read_json(naut_path), api_base, api_key)
    _write_json(naut_path, naut, private=True)
    done.files.append(naut_path)

    kernel_path = Path(profile_dir) / "ipython_kernel_config.json"
    _write_json(kernel_path, _magics(_read_json(kernel_path), api_base), private=False)
    done.files.append(kernel_path)

    done.notes.append(
        f"Jupyternaut: pick {JUPYTER_AI_MODEL_NAME!r} in the chat's model picker"
        + (
            " (it is also the default model)."
            if naut["model_provider_id"] == JUPYTER_AI_MODEL_ID
            else f" (the default model stays {naut['model_provider_id']!r})."
        )
    )
    default = _magics(_read_json(kernel_path), api_base)["AiMagics"]["initial_language_model"]
    alone = " or `%%ai` alone" if default == JUPYTER_AI_ALIAS else ""
    done.notes.append(
        f"Magics: in a new kernel, `%load_ext jupyter_ai_magic_commands`, then "
        f"`%%ai {JUPYTER_AI_ALIAS}`{alone}. They send OPENAI_API_KEY as the key."
    )
    return done
