"""Provider API keys, encrypted at rest with Fernet.

The key lives outside the database (a 0600 file beside it, or configuration) so that a
copied database file, a backup or a shared PostgreSQL dump never reveals a provider key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

# Encrypted once with the key and kept in the database: a wrong key is caught at start,
# before it can turn stored keys into garbage or encrypt new ones under a second key.
KEY_CHECK_PLAINTEXT = b"jupyter-mux key check"


class SecretKeyError(RuntimeError):
    """The encryption key is missing, malformed, or not the one the database was written with."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(
                "The jupyter-mux encryption key is malformed: it must be a url-safe base64 "
                "Fernet key of 32 bytes (make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            ) from exc

    @classmethod
    def from_config(cls, key: str, key_file: Path) -> SecretBox:
        """Use the configured key, else the key file, creating it (mode 0600) on first start."""
        if key:
            return cls(key.encode())
        if key_file.exists():
            return cls(key_file.read_bytes().strip())
        key_file.parent.mkdir(parents=True, exist_ok=True)
        new_key = Fernet.generate_key()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_key)
        return cls(new_key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                "A stored provider key cannot be decrypted with the configured encryption key."
            ) from exc

    def key_check(self) -> str:
        return self._fernet.encrypt(KEY_CHECK_PLAINTEXT).decode()

    def verify(self, key_check: str) -> None:
        try:
            ok = self._fernet.decrypt(key_check.encode()) == KEY_CHECK_PLAINTEXT
        except InvalidToken:
            ok = False
        if not ok:
            raise SecretKeyError(
                "The jupyter-mux encryption key does not match the one this database was "
                "written with, so its stored provider keys cannot be read. Configure the "
                "original key (c.MuxApp.encryption_key or c.MuxApp.encryption_key_file)."
            )
