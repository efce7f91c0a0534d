"""OIDC verification for real, offline: tokens signed with a test key, verified against its cert."""

from __future__ import annotations

import base64
import json

import pytest

from shared.auth import AllowAll, AuthFailure, OidcVerifier, push_verifier, tasks_verifier
from shared.errors import ConfigError
from shared.settings import load_settings
from tests.unit import signing

AUDIENCE = "https://sync-worker.example"
EMAIL = "push-invoker@project.iam.gserviceaccount.com"


def verifier() -> OidcVerifier:
    return OidcVerifier(audience=AUDIENCE, email=EMAIL, certs=signing.certs)


def test_valid_token_passes() -> None:
    verifier().verify("Bearer " + signing.token(audience=AUDIENCE, email=EMAIL))


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("", 401),
        ("Basic abc", 401),
        ("Bearer " + signing.token(audience=AUDIENCE, email=EMAIL, expires_in=-3600), 401),
        ("Bearer " + signing.token(audience="https://other.example", email=EMAIL), 401),
        ("Bearer " + signing.token(audience=AUDIENCE, email="intruder@evil.example"), 403),
        ("Bearer " + signing.token(audience=AUDIENCE, email=EMAIL, email_verified=False), 403),
        ("Bearer " + signing.token(audience=AUDIENCE, email=EMAIL, issuer="https://evil"), 401),
        ("Bearer not.a.token", 401),
    ],
    ids=["none", "empty", "basic", "expired", "audience", "email", "unverified", "issuer", "junk"],
)
def test_rejected_tokens(header: str | None, status: int) -> None:
    with pytest.raises(AuthFailure) as raised:
        verifier().verify(header)
    assert raised.value.status == status


def test_unsigned_token_is_rejected() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": signing.KEY_ID}).encode())
    body = base64.urlsafe_b64encode(
        json.dumps({"aud": AUDIENCE, "email": EMAIL, "email_verified": True}).encode()
    )
    unsigned = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    with pytest.raises(AuthFailure) as raised:
        verifier().verify("Bearer " + unsigned)
    assert raised.value.status == 401


def test_token_signed_by_another_key_is_rejected() -> None:
    token = signing.token(audience=AUDIENCE, email=EMAIL)
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[::-1]}"
    with pytest.raises(AuthFailure):
        verifier().verify("Bearer " + forged)


def test_local_mode_can_switch_verification_off() -> None:
    settings = load_settings({"PIPELINE_MODE": "local", "AUTH_DISABLED": "true"})
    assert isinstance(push_verifier(settings), AllowAll)
    assert isinstance(tasks_verifier(settings), AllowAll)


def test_enabled_verification_needs_its_settings() -> None:
    settings = load_settings({"PIPELINE_MODE": "cloud", "PUSH_AUDIENCE": AUDIENCE})
    with pytest.raises(ConfigError) as raised:
        push_verifier(settings)
    assert raised.value.setting == "PUSH_SERVICE_ACCOUNT"
    settings = load_settings({"PIPELINE_MODE": "cloud", "TASKS_SERVICE_ACCOUNT": EMAIL})
    with pytest.raises(ConfigError) as raised:
        tasks_verifier(settings)
    assert raised.value.setting == "TASKS_AUDIENCE"


def test_cloud_mode_builds_a_real_verifier() -> None:
    settings = load_settings(
        {"PIPELINE_MODE": "cloud", "PUSH_AUDIENCE": AUDIENCE, "PUSH_SERVICE_ACCOUNT": EMAIL}
    )
    assert isinstance(push_verifier(settings), OidcVerifier)
