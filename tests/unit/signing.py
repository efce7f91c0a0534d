"""A test RSA key and certificate that sign OIDC tokens the way Google does."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

KEY_ID = "test-key-1"


@cache
def _key_and_cert() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


def certs() -> dict[str, str]:
    """The certificate map a verifier is given instead of Google's."""
    return {KEY_ID: _key_and_cert()[1]}


def token(
    *,
    audience: str,
    email: str,
    expires_in: int = 600,
    issuer: str = "https://accounts.google.com",
    email_verified: bool = True,
) -> str:
    """A signed ID token with Google's claims."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "email": email,
        "email_verified": email_verified,
        "sub": "1234567890",
        "iat": now - 60 if expires_in > 0 else now - 7200,
        "exp": now + expires_in,
    }
    signer = crypt.RSASigner.from_string(_key_and_cert()[0], KEY_ID)
    return jwt.encode(signer, claims).decode()
