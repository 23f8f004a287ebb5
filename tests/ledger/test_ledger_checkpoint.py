"""C2SP signed notes and tlog checkpoints, checked against the Go reference implementation's
published example (golang.org/x/mod, sumdb/note/note.go package documentation: the
"PeterNeumann" key and note), so any Go-ecosystem witness or verifier accepts ours."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.errors import FormatError, VerificationError
from ledger.checkpoint import (
    Checkpoint,
    add_signature,
    parse_note,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_note,
    vkey,
)
from ledger.keys import Signer

GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (GO_TEXT + "\n\u2014 PeterNeumann "
           "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def go_signer() -> Signer:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert seed[0] == 1
    return Signer(Ed25519PrivateKey.from_private_bytes(seed[1:]))


def test_signed_note_matches_the_go_reference_byte_for_byte() -> None:
    signer = go_signer()
    assert vkey("PeterNeumann", signer.public_key) == GO_VKEY
    assert sign_note(GO_TEXT, signer, "PeterNeumann") == GO_NOTE
    name, pub = parse_vkey(GO_VKEY)
    assert name == "PeterNeumann" and pub == signer.public_key
    assert verify_note(GO_NOTE, name, pub) == GO_TEXT


def test_altered_note_or_other_key_fails() -> None:
    name, pub = parse_vkey(GO_VKEY)
    with pytest.raises(VerificationError, match="altered"):
        verify_note(GO_NOTE.replace("cryptography", "cryptographY"), name, pub)
    with pytest.raises(VerificationError, match="no signature by key"):
        verify_note(GO_NOTE, name, Signer.generate().public_key)
    with pytest.raises(FormatError):
        parse_vkey(GO_VKEY.replace("c74f20a3", "c74f20a4"))


def test_cosigned_note_keeps_both_signatures() -> None:
    enoch = Signer.generate()
    both = add_signature(GO_NOTE, enoch, "EnochRoot")
    text, sigs = parse_note(both)
    assert text == GO_TEXT and [s.name for s in sigs] == ["PeterNeumann", "EnochRoot"]
    assert verify_note(both, "EnochRoot", enoch.public_key) == GO_TEXT
    assert verify_note(both, *parse_vkey(GO_VKEY)) == GO_TEXT


def test_checkpoint_body_and_signature() -> None:
    root = bytes(range(32))
    cp = Checkpoint("bodycam.example/archive", 1234, root)
    assert cp.to_text() == f"bodycam.example/archive\n1234\n{base64.b64encode(root).decode()}\n"
    assert Checkpoint.from_text(cp.to_text()) == cp
    log = Signer.generate()
    note = sign_checkpoint(cp, log)
    assert note.startswith(cp.to_text() + "\n\u2014 bodycam.example/archive ")
    assert verify_checkpoint(note, log.public_key) == cp
    with pytest.raises(VerificationError):
        verify_checkpoint(note, Signer.generate().public_key)
    with pytest.raises(VerificationError, match="origin"):
        verify_checkpoint(note, log.public_key, origins=["other"])
    ext = Checkpoint("o", 1, root, ("Timestamp: 1",))
    assert Checkpoint.from_text(ext.to_text()) == ext


@pytest.mark.parametrize("text", [
    "o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",  # leading zero
    "o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
    "o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",  # short root
    "o\n1\n",
    "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",  # empty origin
    "o\n1\n" + base64.b64encode(bytes(32)).decode(),  # no final newline
])
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(FormatError):
        Checkpoint.from_text(text)


def test_malformed_notes() -> None:
    for bad in ("no signatures\n", GO_TEXT + "\n", GO_TEXT + "\n- PeterNeumann AAAAAAA=\n",
                GO_TEXT + "\n\u2014 PeterNeumann !!!\n"):
        with pytest.raises(FormatError):
            parse_note(bad)
