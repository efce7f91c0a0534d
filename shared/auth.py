"""Verify the Google-signed OIDC tokens that Pub/Sub push and Cloud Tasks attach."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from shared.errors import ConfigError
from shared.settings import Settings

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CLOCK_SKEW_SECONDS = 10

CertsSource = Callable[[], Mapping[str, str]]


@dataclass(frozen=True)
class AuthFailure(Exception):
    """The request is not from the expected caller: answer `status` with no side effects."""

    status: int
    reason: str

    def __str__(self) -> str:
        return self.reason


class OidcVerifier:
    """Checks a bearer token's signature, expiry, audience, issuer and service-account email."""

    def __init__(self, *, audience: str, email: str, certs: CertsSource) -> None:
        self._audience = audience
        self._email = email
        self._certs = certs

    def verify(self, authorization: str | None) -> None:
        """Return if `authorization` (the header) is valid; raise `AuthFailure` otherwise."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthFailure(401, "missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(  # type: ignore[no-untyped-call]
                token,
                certs=self._certs(),
                audience=self._audience,
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as error:
            raise AuthFailure(401, f"invalid token: {error}") from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise AuthFailure(401, "token not issued by Google")
        if claims.get("email") != self._email or claims.get("email_verified") is not True:
            raise AuthFailure(403, "token is for another service account")


class AllowAll:
    """Local-mode stand-in for a verifier (the emulators send no tokens)."""

    def verify(self, authorization: str | None) -> None:
        return None


Verifier = OidcVerifier | AllowAll


class GoogleCerts:
    """Google's OIDC signing certificates, fetched over HTTPS and cached for an hour."""

    def __init__(self, url: str = GOOGLE_CERTS_URL, ttl_seconds: float = 3600) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._certs: Mapping[str, str] = {}
        self._fetched_at = 0.0

    def __call__(self) -> Mapping[str, str]:
        with self._lock:
            if not self._certs or time.monotonic() - self._fetched_at > self._ttl:
                try:
                    response = requests.get(self._url, timeout=5)
                    response.raise_for_status()
                except requests.RequestException as error:
                    message = f"cannot fetch certs: {error}"
                    raise auth_exceptions.TransportError(message) from None  # type: ignore[no-untyped-call]
                self._certs = response.json()
                self._fetched_at = time.monotonic()
            return self._certs


def push_verifier(settings: Settings) -> Verifier:
    """Verifier of Pub/Sub push requests (PUSH_AUDIENCE, PUSH_SERVICE_ACCOUNT)."""
    return _verifier(
        settings,
        ("PUSH_AUDIENCE", settings.push_audience),
        ("PUSH_SERVICE_ACCOUNT", settings.push_service_account),
    )


def tasks_verifier(settings: Settings) -> Verifier:
    """Verifier of Cloud Tasks requests (TASKS_AUDIENCE, TASKS_SERVICE_ACCOUNT)."""
    return _verifier(
        settings,
        ("TASKS_AUDIENCE", settings.tasks_audience),
        ("TASKS_SERVICE_ACCOUNT", settings.tasks_service_account),
    )


def _verifier(settings: Settings, audience: tuple[str, str], email: tuple[str, str]) -> Verifier:
    """`AUTH_DISABLED` (local mode only) turns verification off; otherwise both must be set."""
    if settings.auth_disabled:
        return AllowAll()
    for name, value in (audience, email):
        if not value:
            raise ConfigError(name, "is required unless AUTH_DISABLED=true in local mode")
    return OidcVerifier(audience=audience[1], email=email[1], certs=GoogleCerts())
