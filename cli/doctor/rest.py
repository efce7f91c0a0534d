"""Authorized JSON calls to Google's REST APIs (Cloud Functions, Secret Manager, IAM, ...).

Errors come back as the `google.api_core` exceptions the gRPC clients raise
(`PermissionDenied`, `NotFound`, ...), so the checks and `explain` treat both alike.
"""

from __future__ import annotations

from typing import Any, Protocol

TIMEOUT_SECONDS = 20.0


class Rest(Protocol):
    """GET and POST of JSON documents at Google API URLs."""

    def get(self, url: str) -> dict[str, Any]: ...

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]: ...


class GoogleRest:
    """`Rest` over an authorized `requests` session (application-default credentials)."""

    def __init__(self, session: Any, timeout: float = TIMEOUT_SECONDS) -> None:
        self._session = session
        self._timeout = timeout

    @classmethod
    def from_default_credentials(cls) -> GoogleRest:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        return cls(AuthorizedSession(credentials))  # type: ignore[no-untyped-call]

    def get(self, url: str) -> dict[str, Any]:
        return self._answer(self._session.get(url, timeout=self._timeout))

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(self._session.post(url, json=body, timeout=self._timeout))

    @staticmethod
    def _answer(response: Any) -> dict[str, Any]:
        from google.api_core import exceptions

        if response.status_code >= 400:
            raise exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {}


class PlainHttp:
    """Unauthenticated requests, as anyone on the network would make them."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self._timeout = timeout

    def status(self, method: str, url: str) -> int | None:
        import requests

        try:
            response = requests.request(method, url, timeout=self._timeout, allow_redirects=False)
        except requests.RequestException:
            return None
        return int(response.status_code)
