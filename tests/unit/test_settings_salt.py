"""The pseudonymization salt: never printed, used exactly as the secret holds it."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.pseudonym import Pseudonymizer
from shared.settings import LOCAL_SALT, load_settings

SALT = "s3cr3t-salt-value-with-more-than-32-bytes-0123456789"


def test_repr_and_str_of_settings_never_show_the_salt() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "PSEUDONYMIZATION_SALT": SALT})

    assert SALT not in repr(settings)
    assert SALT not in str(settings)
    assert settings.salt == SALT


@pytest.mark.parametrize("raw", [f" {SALT}", f"{SALT}\n", f"\t{SALT} "])
def test_the_salt_is_used_exactly_as_given_surrounding_whitespace_included(raw: str) -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "PSEUDONYMIZATION_SALT": raw})

    assert settings.require_salt() == raw
    # The hash other tools compute from the raw secret: sha256(user_id + salt).
    import hashlib

    expected = hashlib.sha256(("user-1" + raw).encode("utf-8")).hexdigest()
    assert Pseudonymizer.from_settings(settings).user_id_hash("user-1") == expected


@pytest.mark.parametrize("blank", ["", " ", "\n", " \t \n"])
def test_an_empty_or_all_whitespace_salt_counts_as_missing(blank: str) -> None:
    cloud = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "PSEUDONYMIZATION_SALT": blank})
    local = load_settings({"PIPELINE_MODE": "local", "PSEUDONYMIZATION_SALT": blank})

    assert cloud.salt is None
    with pytest.raises(ConfigError) as raised:
        cloud.require_salt()
    assert raised.value.setting == "PSEUDONYMIZATION_SALT"
    assert local.require_salt() == LOCAL_SALT


def test_the_length_rule_counts_the_salt_as_given() -> None:
    # 31 visible bytes plus one space: 32 bytes as given, so accepted.
    padded = "x" * 31 + " "
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "PSEUDONYMIZATION_SALT": padded})

    assert settings.require_salt() == padded
