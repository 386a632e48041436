"""Token keys from the environment or a file, and the cipher over them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from relayops.oauth.cipher import DecryptError, TokenCipher
from relayops.oauth.keys import GENERATE_HINT, KeyConfigError, load_keys
from tests.oauth_fixtures import new_key


def test_missing_key_outside_development_is_a_clear_error() -> None:
    with pytest.raises(KeyConfigError) as caught:
        load_keys({"RELAYOPS_ENV": "production"})
    message = str(caught.value)
    assert "RELAYOPS_TOKEN_KEYS is not set" in message
    assert GENERATE_HINT in message


def test_development_generates_a_process_key_with_a_warning() -> None:
    warn = io.StringIO()
    keys = load_keys({"RELAYOPS_ENV": "development"}, warn)
    assert len(keys) == 1
    Fernet(keys[0])
    assert "WARNING" in warn.getvalue() and "RELAYOPS_TOKEN_KEYS" in warn.getvalue()
    assert keys[0].decode() not in warn.getvalue()


def test_keys_from_the_environment_newest_first() -> None:
    new, old = new_key(), new_key()
    keys = load_keys({"RELAYOPS_TOKEN_KEYS": f" {new.decode()} , {old.decode()},"})
    assert keys == [new, old]


def test_keys_from_a_file_with_comments(tmp_path: Path) -> None:
    new, old = new_key(), new_key()
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\n{new.decode()}  # current\n\n{old.decode()}\n")
    assert load_keys({"RELAYOPS_TOKEN_KEYS_FILE": str(path)}) == [new, old]


def test_invalid_key_is_named_by_position_never_echoed() -> None:
    good = new_key().decode()
    with pytest.raises(KeyConfigError) as caught:
        load_keys({"RELAYOPS_TOKEN_KEYS": f"{good},not-a-key-secret"})
    assert "key #2" in str(caught.value) and "RELAYOPS_TOKEN_KEYS" in str(caught.value)
    assert "not-a-key-secret" not in str(caught.value)


def test_unreadable_or_empty_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match=r"RELAYOPS_TOKEN_KEYS_FILE=.*cannot be read"):
        load_keys({"RELAYOPS_TOKEN_KEYS_FILE": str(tmp_path / "absent")})
    empty = tmp_path / "empty"
    empty.write_text("# nothing yet\n")
    with pytest.raises(KeyConfigError, match="holds no key"):
        load_keys({"RELAYOPS_TOKEN_KEYS_FILE": str(empty)})


def test_cipher_encrypts_with_the_first_and_decrypts_with_any() -> None:
    new, old = new_key(), new_key()
    sealed_old = TokenCipher([old]).encrypt("token")
    both = TokenCipher([new, old])
    assert both.decrypt(sealed_old) == "token"
    rotated = both.rotate(sealed_old)
    assert TokenCipher([new]).decrypt(rotated) == "token"
    assert Fernet(new).decrypt(both.encrypt("x").encode()) == b"x"
    with pytest.raises(DecryptError):
        TokenCipher([old]).decrypt(rotated)
    assert new.decode() not in repr(both)
