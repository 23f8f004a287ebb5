"""Requester signature / seal images (A2 Art.11(1), (3)): drawn with OpenCV here, checked with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.signature_image import (
    SignatureImageError,
    check_signature_bytes,
    check_signature_image,
    draw_signature_image,
    store_signature_image,
)
from agent.store import DockStore


@pytest.mark.parametrize("name,seal", [("sig.png", False), ("sig.jpg", False), ("seal.png", True),
                                       ("seal.jpeg", True)])
def test_drawn_signatures_and_seals_pass(tmp_path, name, seal):
    info, data = check_signature_image(draw_signature_image(tmp_path / name, "Sun Li", seal=seal))
    assert info.format == ("png" if name.endswith("png") else "jpeg")
    assert (info.width, info.height) == (480, 160)
    assert 2_000 < info.ink_ratio_ppm < 600_000
    assert len(data) == info.size


def test_transparent_png_with_ink_passes_and_without_is_blank(tmp_path):
    rgba = np.zeros((120, 300, 4), np.uint8)  # fully transparent: paper
    ok, blank = cv2.imencode(".png", rgba)
    with pytest.raises(SignatureImageError, match="blank"):
        check_signature_bytes(blank.tobytes())
    cv2.putText(rgba, "Seal", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 200, 255), 4)
    ok, inked = cv2.imencode(".png", rgba)
    assert check_signature_bytes(inked.tobytes()).format == "png"


def _png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


@pytest.mark.parametrize("img,match", [
    (np.full((160, 480, 3), 255, np.uint8), "blank"),                 # white paper
    (np.full((160, 480), 128, np.uint8), "blank"),                    # grey, no contrast
    (np.zeros((160, 480, 3), np.uint8), "blank|mostly dark"),         # black frame
    (np.full((20, 30, 3), 255, np.uint8), "not a plausible"),         # too small
    (np.full((50, 2000, 3), 255, np.uint8), "not a plausible"),       # a strip, not a signature
])
def test_implausible_images_are_refused(img, match):
    with pytest.raises(SignatureImageError, match=match):
        check_signature_bytes(_png(img))


def test_mostly_ink_is_refused():
    img = np.zeros((160, 480, 3), np.uint8)
    img[:10, :] = 255  # a sliver of paper: percentile says "paper" is black
    img[:, :100] = 255
    with pytest.raises(SignatureImageError, match="mostly dark|blank"):
        check_signature_bytes(_png(img))


def test_unreadable_files_are_refused(tmp_path):
    good = draw_signature_image(tmp_path / "s.png", "Sun Li").read_bytes()
    with pytest.raises(SignatureImageError, match="unreadable: not a PNG or JPEG"):
        check_signature_bytes(b"GIF89a" + b"\0" * 100)
    with pytest.raises(SignatureImageError, match="unreadable: the PNG data is damaged"):
        check_signature_bytes(good[: len(good) // 3])
    with pytest.raises(SignatureImageError, match="empty"):
        check_signature_bytes(b"")
    with pytest.raises(SignatureImageError, match="not found"):
        check_signature_image(tmp_path / "missing.png")


def test_stored_content_addressed(tmp_path):
    store = DockStore(tmp_path / "store")
    info = store_signature_image(store, draw_signature_image(tmp_path / "s.png", "Sun Li"))
    assert store.has(info.sha256) and store.verify(info.sha256)
    again = store_signature_image(store, tmp_path / "s.png")
    assert again.sha256 == info.sha256
