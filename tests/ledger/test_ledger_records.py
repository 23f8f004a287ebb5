"""Typed record bodies: each kind's shape, no floats, registry open for later kinds."""

from __future__ import annotations

import hashlib
from typing import Literal

import pytest

from bodycam.errors import FormatError
from ledger.keys import Signer
from ledger.records import (
    KIND_MODELS,
    Body,
    Calibration,
    DockSession,
    Gap,
    Reference,
    Requester,
    ServerSample,
    StopJustification,
    make_body,
    register,
    validate_body,
)
from tests.fixtures.ledger import T0_NS, enrollment, segment

H = hashlib.sha256(b"x").hexdigest()


def test_initial_kinds_are_registered() -> None:
    for kind in ("enrollment", "calibration", "segment", "gap", "stop_justification", "dock_session"):
        assert kind in KIND_MODELS


def test_ns_fields_are_strings_in_json_and_ints_in_python() -> None:
    seg = segment("cam-1", 3, H)
    data = make_body(seg)
    assert data["start_ns"] == str(seg.start_ns)
    again = validate_body(data)
    assert again == seg
    assert isinstance(again.start_ns, int)


def test_enrollment_checks_key_and_role() -> None:
    s = Signer.generate()
    body = make_body(enrollment(s, "device", "cam-1", custodian="off-7"))
    assert validate_body(body).custodian == "off-7"
    with pytest.raises(FormatError, match="keyid"):
        validate_body({**body, "keyid": H})
    with pytest.raises(FormatError, match="role"):
        validate_body({**body, "subject_type": "person"})
    with pytest.raises(FormatError, match="only persons"):
        validate_body({**body, "role": "officer"})
    with pytest.raises(FormatError, match="unknown field"):
        validate_body({**body, "colour": "red"})


def test_calibration_offsets_are_integers() -> None:
    cal = Calibration(device_id="cam-1", reference=Reference(kind="ntp", servers=[
        ServerSample(server="ntp1.example", offset_us=-120, delay_us=800, stratum=2)]),
        offset_before_us=-2_500_000, offset_after_us=3_000, uncertainty_us=1_500, tolerance_us=1_000_000,
        drift_ppb=-4_000, result="passed", measured_ns=T0_NS)
    data = make_body(cal)
    assert validate_body(data) == cal
    with pytest.raises(FormatError, match="offset_before_us"):
        validate_body({**data, "offset_before_us": -2.5})
    with pytest.raises(FormatError, match="reasons"):
        validate_body({**data, "result": "refused"})


def test_segment_rules() -> None:
    data = make_body(segment("cam-1", 0, H))
    with pytest.raises(FormatError, match="case_id or its activity"):
        validate_body({k: v for k, v in data.items() if k != "case_id"})
    with pytest.raises(FormatError, match="before start_ns"):
        validate_body({**data, "end_ns": str(T0_NS - 1)})
    with pytest.raises(FormatError, match="fps"):
        validate_body({**data, "media": {**data["media"], "fps": "29.97"}})
    with pytest.raises(FormatError, match="seq"):
        validate_body({**data, "seq": "1"})  # strict: no coercion of signed values
    with pytest.raises(FormatError, match="start_ns"):
        validate_body({**data, "start_ns": "17e17"})


def test_gap_and_justification() -> None:
    gap = Gap(gap_type="missing_seq", device_id="cam-1", after_seq=3, before_seq=5, start_ns=T0_NS,
              end_ns=T0_NS + 1, case_id="case-1", detail="seq 4 missing")
    assert validate_body(make_body(gap)) == gap
    with pytest.raises(FormatError, match="gap_type"):
        validate_body({**make_body(gap), "gap_type": "holiday"})
    just = dict(gap=H, device_id="cam-1", officer_id="off-7", note="witness asked to stop")
    with pytest.raises(FormatError, match="A2 Art.11"):
        validate_body({"v": 1, "kind": "stop_justification", **just, "reason": 1})
    ok = StopJustification(**just, reason=1, requester=Requester(name="Witness", signature_image_sha256=H))
    assert validate_body(make_body(ok)).reason == 1
    assert StopJustification(**just, reason=4).reason == 4
    with pytest.raises(FormatError, match="reason"):
        validate_body({**make_body(ok), "reason": 6})


def test_dock_session() -> None:
    ds = DockSession(session_id="s-1", dock_id="dock-1", device_id="cam-1", officer_id="off-7",
                     activity="patrol", started_ns=T0_NS, status="open")
    assert validate_body(make_body(ds)) == ds
    with pytest.raises(FormatError, match="ended_ns"):
        validate_body({**make_body(ds), "ended_ns": str(T0_NS - 5)})


def test_later_kinds_plug_in_with_register() -> None:
    @register
    class TestRetention(Body):
        kind: Literal["test_retention"] = "test_retention"
        segment: str
        action: Literal["keep", "purge"]

    try:
        assert validate_body({"v": 1, "kind": "test_retention", "segment": H, "action": "keep"}).action == "keep"
        with pytest.raises(TypeError, match="already registered"):
            @register
            class Clash(Body):
                kind: Literal["test_retention"] = "test_retention"
    finally:
        KIND_MODELS.pop("test_retention", None)


def test_unknown_kind_and_version() -> None:
    with pytest.raises(FormatError, match="unknown record kind"):
        validate_body({"v": 1, "kind": "nope"})
    data = make_body(segment("cam-1", 0, H))
    with pytest.raises(FormatError, match="v"):
        validate_body({**data, "v": 2})
