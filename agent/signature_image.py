"""A requester's handwritten signature or seal, captured as an image (A2 Art.11(1), (3)).

The image is evidence that the person who asked for the recording to stop signed or sealed the
request, so the dock refuses what cannot be one: bytes that are not a PNG or JPEG, an image OpenCV
cannot decode, a blank page (almost no ink, or no contrast), a black frame (a covered lens), and a
size no scanner or camera produces for a signature. What passes is stored unchanged in the dock
store under its SHA-256, and that hash goes into the signed justification body.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.store import DockStore
from bodycam.errors import RefusedError
from bodycam.i18n import _

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
MIN_WIDTH, MIN_HEIGHT = 80, 40
MAX_SIDE = 10_000
MAX_ASPECT = 20.0
#: A pixel is ink when it is this much darker than the paper (the image's bright level).
INK_CONTRAST = 60
MIN_INK_RATIO = 0.002     # a few strokes on a large page is still a signature
MAX_INK_RATIO = 0.60      # more ink than paper: a black frame, not a signature
MIN_STDDEV = 4.0

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class SignatureImageError(RefusedError):
    """The image cannot serve as the requester's signature or seal."""


@dataclass(frozen=True)
class SignatureImage:
    sha256: str
    format: str
    width: int
    height: int
    ink_ratio_ppm: int  # parts per million of pixels that are ink
    size: int

    def to_json(self) -> dict:
        return {"sha256": self.sha256, "format": self.format, "width": self.width, "height": self.height,
                "ink_ratio_ppm": self.ink_ratio_ppm, "size": self.size}


def _format(data: bytes) -> str | None:
    if data.startswith(_PNG):
        return "png"
    if data.startswith(_JPEG):
        return "jpeg"
    return None


def _grey_on_white(img: np.ndarray) -> np.ndarray:
    """Greyscale with transparent areas as white paper (scanned seals often come as RGBA PNGs)."""
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def check_signature_bytes(data: bytes, what: str | None = None) -> SignatureImage:
    """Accept ``data`` as a signature/seal image or raise SignatureImageError saying why not."""
    what = what or _("signature image")
    if not data:
        raise SignatureImageError(_("{what} is empty; capture the requester's signature again").format(what=what))
    if len(data) > MAX_FILE_BYTES:
        raise SignatureImageError(_("{what} is {size} bytes, more than {limit}; scan or photograph the signature at "
                                    "a lower resolution").format(what=what, size=len(data), limit=MAX_FILE_BYTES))
    fmt = _format(data)
    if fmt is None:
        raise SignatureImageError(_("{what} is unreadable: not a PNG or JPEG file; save the scan as PNG or JPEG")
                                  .format(what=what))
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise SignatureImageError(_("{what} is unreadable: the {format} data is damaged or truncated; capture the "
                                    "signature again").format(what=what, format=fmt.upper()))
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    h, w = img.shape[:2]
    if w < MIN_WIDTH or h < MIN_HEIGHT or max(w, h) > MAX_SIDE or max(w / h, h / w) > MAX_ASPECT:
        raise SignatureImageError(_("{what} is {width}×{height} pixels, not a plausible signature or seal (at least "
                                    "{min_width}×{min_height}, at most {max_side} per side, aspect ratio at most "
                                    "{max_aspect:g}:1)").format(what=what, width=w, height=h, min_width=MIN_WIDTH,
                                                                min_height=MIN_HEIGHT, max_side=MAX_SIDE,
                                                                max_aspect=MAX_ASPECT))
    grey = _grey_on_white(img)
    paper = float(np.percentile(grey, 95))
    ink = grey < max(paper - INK_CONTRAST, 0)
    ratio = float(ink.mean())
    std = float(grey.std())
    if std < MIN_STDDEV or ratio < MIN_INK_RATIO:
        raise SignatureImageError(_("{what} is blank (ink on {ratio:.3%} of the page); the requester must sign or "
                                    "seal before the image is captured").format(what=what, ratio=ratio))
    if ratio > MAX_INK_RATIO:
        raise SignatureImageError(_("{what} is mostly dark (ink on {ratio:.0%} of the image): not a signature on "
                                    "paper; capture it again in good light").format(what=what, ratio=ratio))
    return SignatureImage(hashlib.sha256(data).hexdigest(), fmt, w, h, round(ratio * 1_000_000), len(data))


def check_signature_image(path: Path | str) -> tuple[SignatureImage, bytes]:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SignatureImageError(_("{path} is {size} bytes, more than {limit}; use a smaller scan of the "
                                        "signature").format(path=path, size=size, limit=MAX_FILE_BYTES))
        data = path.read_bytes()
    except FileNotFoundError:
        raise SignatureImageError(_("{path}: signature image not found").format(path=path)) from None
    except IsADirectoryError:
        raise SignatureImageError(_("{path} is a directory, not a signature image").format(path=path)) from None
    except PermissionError:
        raise SignatureImageError(_("{path}: cannot read the signature image (permission denied)").format(
            path=path)) from None
    return check_signature_bytes(data, _("signature image {name}").format(name=path.name)), data


def store_signature_image(store: DockStore, path: Path | str) -> SignatureImage:
    """Check the image and file it in the dock store as an attachment (content-addressed)."""
    info, data = check_signature_image(path)
    blob = store.ingest_bytes(data)
    if blob.sha256 != info.sha256:  # the store hashes independently; they must agree
        raise SignatureImageError(_("stored attachment hash {stored} differs from the image's {image}").format(
            stored=blob.sha256, image=info.sha256))
    log.info("stored signature image %s (%s %dx%d)", info.sha256, info.format, info.width, info.height)
    return info


def draw_signature_image(path: Path | str, text: str, *, seal: bool = False, width: int = 480,
                         height: int = 160) -> Path:
    """Draw a handwriting-like signature (or a round red seal) on white paper and save it as PNG/JPEG
    (by the file suffix). Used by the demo and the tests, which must not carry binary fixtures."""
    path = Path(path)
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    if seal:
        centre, radius = (width // 2, height // 2), min(width, height) // 2 - 6
        red = (30, 30, 200)
        cv2.circle(img, centre, radius, red, 4, cv2.LINE_AA)
        cv2.circle(img, centre, radius - 10, red, 1, cv2.LINE_AA)
        scale = max(0.4, radius / 90)
        (tw, th), _baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        cv2.putText(img, text, (centre[0] - tw // 2, centre[1] + th // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    red, 2, cv2.LINE_AA)
    else:
        ink = (90, 20, 10)
        cv2.putText(img, text, (16, height * 3 // 5), cv2.FONT_HERSHEY_SCRIPT_COMPLEX, 1.6, ink, 2, cv2.LINE_AA)
        # A flourish under the name, as a pen would leave it.
        xs = np.linspace(16, width - 16, 40)
        ys = height * 3 // 4 + 10 * np.sin(np.linspace(0, 3 * np.pi, 40))
        pts = np.stack([xs, ys], axis=1).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, ink, 2, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png", img)
    if not ok:
        raise SignatureImageError(f"OpenCV could not encode {path.name}")
    path.write_bytes(buf.tobytes())
    return path
