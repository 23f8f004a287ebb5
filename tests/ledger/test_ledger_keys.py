"""Key files: 0600 from creation, refused when readable by others, passphrase via an env var."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bodycam.errors import KeyFileError
from ledger.keys import (
    PublicKey,
    Signer,
    generate_key_file,
    load_public_key,
    load_signer,
    write_public_key,
)


def test_keyid_is_sha256_of_raw_public_key() -> None:
    s = Signer.generate()
    assert s.keyid == hashlib.sha256(s.public_key_raw).hexdigest()
    assert len(s.public_key_raw) == 32
    assert PublicKey.from_b64(s.public_key.b64).keyid == s.keyid


def test_generated_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        signer = generate_key_file(tmp_path / "k.pem")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "k.pem").stat().st_mode)
    assert mode == 0o600
    assert os.listdir(tmp_path) == ["k.pem"]  # no temporary file left behind
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "k.pem").read_bytes()
    assert load_signer(tmp_path / "k.pem").keyid == signer.keyid


def test_never_overwrites_a_key(tmp_path: Path) -> None:
    generate_key_file(tmp_path / "k.pem")
    before = (tmp_path / "k.pem").read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_key_file(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_readable_by_others_is_refused_with_chmod_hint(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.pem"
    generate_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signer(path)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_public_key(path)


def test_passphrase_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.pem"
    monkeypatch.setenv("BODYCAM_TEST_PASS", "correct horse")
    signer = generate_key_file(path, passphrase_env="BODYCAM_TEST_PASS")
    text = path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in text
    assert load_signer(path, "BODYCAM_TEST_PASS").keyid == signer.keyid
    with pytest.raises(KeyFileError, match="passphrase-protected"):
        load_signer(path)
    monkeypatch.setenv("BODYCAM_TEST_PASS", "wrong")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_signer(path, "BODYCAM_TEST_PASS")
    monkeypatch.delenv("BODYCAM_TEST_PASS")
    with pytest.raises(KeyFileError, match="BODYCAM_TEST_PASS"):
        load_signer(path, "BODYCAM_TEST_PASS")


def test_public_key_files(tmp_path: Path) -> None:
    signer = generate_key_file(tmp_path / "k.pem")
    write_public_key(tmp_path / "k.pub", signer.public_key)
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "k.pub").read_bytes()
    assert load_public_key(tmp_path / "k.pub") == signer.public_key
    assert load_public_key(tmp_path / "k.pem") == signer.public_key  # derived from the private key
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_signer(tmp_path / "k.pub")


def test_sign_and_verify() -> None:
    s = Signer.generate()
    sig = s.sign(b"data")
    assert s.public_key.verify(sig, b"data")
    assert not s.public_key.verify(sig, b"other")
    assert not Signer.generate().public_key.verify(sig, b"data")
    assert "PRIVATE" not in repr(s)


@settings(max_examples=200, deadline=None)
@given(msg=st.binary(max_size=2048), flip=st.integers(min_value=0, max_value=64 * 8 - 1), tamper=st.booleans())
def test_verify_agrees_with_openssl_on_good_and_altered_signatures(msg, flip, tamper):
    """PublicKey.verify (libsodium) accepts exactly what OpenSSL accepts for our signatures."""
    from cryptography.exceptions import InvalidSignature

    signer = _CROSS_SIGNER
    sig = bytearray(signer.sign(msg))
    if tamper:
        sig[flip // 8] ^= 1 << (flip % 8)
    pub = PublicKey.from_raw(signer.public_key_raw)
    try:
        pub._key.verify(bytes(sig), msg)
        openssl = True
    except InvalidSignature:
        openssl = False
    assert pub.verify(bytes(sig), msg) is openssl
    assert pub.verify(bytes(sig[:63]), msg) is False


_CROSS_SIGNER = Signer.generate()
