"""Pseudonymize user ids: `hex(SHA-256(user_id + salt))`, UTF-8, as the ticket defines it."""

from __future__ import annotations

import hashlib

from shared.settings import Settings


class Pseudonymizer:
    """Hashes user ids with a secret salt; the raw id never leaves this object."""

    __slots__ = ("_salt",)

    def __init__(self, salt: str) -> None:
        if not salt:
            raise ValueError("the pseudonymization salt must not be empty")
        self._salt = salt

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymizer:
        """Build from settings; raises `ConfigError` when the salt is missing or unsafe."""
        return cls(settings.require_salt())

    def user_id_hash(self, user_id: str) -> str:
        """Return the 64-character lowercase hex digest of `user_id + salt`."""
        return hashlib.sha256((user_id + self._salt).encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return "Pseudonymizer(salt=<redacted>)"
