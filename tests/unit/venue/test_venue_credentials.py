"""Credentials: where they are read from, the file-mode refusal, and that no value ever
shows in a repr, a str, or an error message."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_secrets, mask_urls
from pk8opt.venue.credentials import Secret, load_credentials

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
API = {
    "PM_API_KEY": "11111111-2222-3333-4444-555555555555",
    "PM_API_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
    "PM_API_PASSPHRASE": "passphrase-0123456789abcdef",
}
VALUES = [KEY, KEY[2:], *API.values()]


def assert_no_value(text: str) -> None:
    for v in VALUES:
        assert v not in text, "a secret value leaked"


def test_from_the_environment_with_api_values() -> None:
    creds = load_credentials({"PM_PRIVATE_KEY": KEY, **API})
    assert creds.private_key.reveal() == KEY
    assert creds.api is not None and creds.api.secret.reveal() == API["PM_API_SECRET"]
    assert creds.signature_type == 0 and creds.funder is None and creds.source == "environment"
    assert_no_value(repr(creds) + str(creds) + f"{creds}")


def test_api_values_absent_are_derived_later() -> None:
    creds = load_credentials({"PM_PRIVATE_KEY": KEY[2:]})
    assert creds.api is None


def test_a_secret_never_prints() -> None:
    s = Secret("some-long-secret-value")
    assert repr(s) == str(s) == f"{s}" == f"{s!r}" == f"{s:>30}" == "***"
    assert s.reveal() == "some-long-secret-value"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_every_value_is_registered_for_redaction() -> None:
    load_credentials({"PM_PRIVATE_KEY": KEY, **API})
    line = f"POST /order failed: key={KEY} bare={KEY[2:]} secret={API['PM_API_SECRET']}"
    assert_no_value(mask_secrets(line))
    assert_no_value(mask_urls(line))
    assert "***" in mask_secrets(line)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "PM_PRIVATE_KEY is not set"),
        ({"PM_PRIVATE_KEY": "0xnothex" + "a" * 58}, "PM_PRIVATE_KEY"),
        (
            {"PM_PRIVATE_KEY": KEY, "PM_API_KEY": API["PM_API_KEY"]},
            "PM_API_SECRET, PM_API_PASSPHRASE",
        ),
        ({"PM_PRIVATE_KEY": KEY, "PM_SIGNATURE_TYPE": "7"}, "PM_SIGNATURE_TYPE=7"),
        ({"PM_PRIVATE_KEY": KEY, "PM_SIGNATURE_TYPE": "1"}, "PM_FUNDER"),
    ],
)
def test_bad_credentials_are_one_line_without_values(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_credentials(env)
    text = str(err.value)
    assert names in text and "\n" not in text
    assert_no_value(text)


def test_a_proxy_wallet_needs_its_address() -> None:
    creds = load_credentials(
        {
            "PM_PRIVATE_KEY": KEY,
            "PM_SIGNATURE_TYPE": "2",
            "PM_FUNDER": "0xabc0000000000000000000000000000000000001",
        }
    )
    assert creds.signature_type == 2 and creds.funder is not None


def _write(path: Path, mode: int) -> Path:
    path.write_text(
        "# real-mode credentials\n"
        f"export PM_PRIVATE_KEY={KEY}\n" + "".join(f"{k}='{v}'\n" for k, v in API.items())
    )
    os.chmod(path, mode)
    return path


def test_from_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "pm.secrets", 0o600)
    creds = load_credentials({"PM_CREDENTIALS_FILE": str(path), "PM_PRIVATE_KEY": "ignored"})
    assert creds.private_key.reveal() == KEY and creds.source == str(path)
    assert creds.api is not None and creds.api.passphrase.reveal() == API["PM_API_PASSPHRASE"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "pm.secrets", mode)
    with pytest.raises(ConfigError) as err:
        load_credentials({"PM_CREDENTIALS_FILE": str(path)})
    text = str(err.value)
    assert f"chmod 600 {path}" in text
    assert_no_value(text)


def test_a_missing_or_malformed_file_says_so_without_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_credentials({"PM_CREDENTIALS_FILE": str(tmp_path / "absent")})
    bad = tmp_path / "bad"
    bad.write_text(f"{KEY}\n")
    os.chmod(bad, 0o600)
    with pytest.raises(ConfigError) as err:
        load_credentials({"PM_CREDENTIALS_FILE": str(bad)})
    assert f"{bad}:1" in str(err.value)
    assert_no_value(str(err.value))
