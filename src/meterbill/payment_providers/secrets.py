"""Provider secrets encrypted at rest (Fernet) with the key from the settings.

Without METERBILL_ENCRYPTION_KEY nothing can be connected: the API refuses with 422
encryption_key_missing, and the clock leaves the connections it cannot read alone.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from meterbill.core.errors import ValidationFailed


class SecretsUnavailable(Exception):
    """No key, or a key that does not open what was stored (it was changed)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, key: str | None) -> None:
        self._fernet: Fernet | None = None
        if key:
            try:
                self._fernet = Fernet(key.encode())
            except ValueError:
                self._fernet = None

    @property
    def ready(self) -> bool:
        return self._fernet is not None

    def encrypt(self, secret: str) -> str:
        if self._fernet is None:
            raise ValidationFailed.single("base", "encryption_key_missing")
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        if self._fernet is None:
            raise SecretsUnavailable("METERBILL_ENCRYPTION_KEY is not set or not a Fernet key")
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise SecretsUnavailable("the stored secret does not open with this key") from error


def masked(last4: str) -> str:
    """What is shown of a secret once stored."""
    return f"••••••••{last4}"
