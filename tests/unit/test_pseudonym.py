"""Known-answer tests for the pseudonym, computed independently at test time."""

from __future__ import annotations

import json
import subprocess

import pytest

from shared.errors import ConfigError
from shared.pseudonym import Pseudonymizer
from shared.settings import LOCAL_SALT, load_settings

SALT = "0123456789abcdef0123456789abcdef-salt"
USER_IDS = ["u1", "firebase-UID_9xYz", "ユーザー山田", "émile", "🏋️‍♀️", "a b\tc", "x" * 1500]


def sha256sum(text: str) -> str:
    """Hash with coreutils' sha256sum, outside Python's hashlib."""
    result = subprocess.run(
        ["sha256sum"], input=text.encode("utf-8"), capture_output=True, check=True
    )
    return result.stdout.split()[0].decode()


@pytest.mark.parametrize("user_id", USER_IDS)
def test_matches_sha256sum(user_id: str) -> None:
    assert Pseudonymizer(SALT).user_id_hash(user_id) == sha256sum(user_id + SALT)


@pytest.mark.parametrize("user_id", USER_IDS)
def test_matches_node_crypto(user_id: str) -> None:
    script = (
        "const [u,s]=JSON.parse(process.argv[1]);"
        "console.log(require('crypto').createHash('sha256').update(u+s).digest('hex'))"
    )
    result = subprocess.run(
        ["node", "-e", script, json.dumps([user_id, SALT])], capture_output=True, check=True
    )
    assert Pseudonymizer(SALT).user_id_hash(user_id) == result.stdout.decode().strip()


def test_fixed_vector() -> None:
    # printf 'u1%s' 0123456789abcdef0123456789abcdef-salt | sha256sum
    assert Pseudonymizer(SALT).user_id_hash("u1") == sha256sum("u1" + SALT)
    assert len(Pseudonymizer(SALT).user_id_hash("u1")) == 64


def test_different_salts_give_different_hashes() -> None:
    assert Pseudonymizer(SALT).user_id_hash("u1") != Pseudonymizer(SALT + "x").user_id_hash("u1")


def test_repr_hides_the_salt() -> None:
    assert SALT not in repr(Pseudonymizer(SALT))


def test_cloud_mode_refuses_a_missing_salt() -> None:
    settings = load_settings({"PIPELINE_MODE": "cloud", "GOOGLE_CLOUD_PROJECT": "p"})
    with pytest.raises(ConfigError) as raised:
        Pseudonymizer.from_settings(settings)
    assert raised.value.setting == "PSEUDONYMIZATION_SALT"


def test_cloud_mode_refuses_a_short_salt() -> None:
    settings = load_settings({"PIPELINE_MODE": "cloud", "PSEUDONYMIZATION_SALT": "a" * 31})
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Pseudonymizer.from_settings(settings)


def test_cloud_mode_counts_bytes_not_characters() -> None:
    salt = "塩" * 11  # 33 bytes in UTF-8, 11 characters
    settings = load_settings({"PIPELINE_MODE": "cloud", "PSEUDONYMIZATION_SALT": salt})
    assert Pseudonymizer.from_settings(settings).user_id_hash("u") == sha256sum("u" + salt)


def test_local_mode_uses_the_development_salt() -> None:
    settings = load_settings({"PIPELINE_MODE": "local"})
    assert Pseudonymizer.from_settings(settings).user_id_hash("u") == sha256sum("u" + LOCAL_SALT)
