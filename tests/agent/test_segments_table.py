"""`bodycam segments` for people (issue 12, "Tables people read"): a header row and whole file
names, on a real docking of real videos whose long names differ only at their ends."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bodycam.cli import cli
from tests.fixtures.media import write_opencv_video
from tests.fixtures.offload import make_dock

LONG = "20261130_0815{:02d}_NORTHGATE-PATROL-UNIT-07_officer-010203_case-2026-000123_part-{}.mp4"
HEADER = ["DEVICE", "SEQ", "FILE", "SHA-256", "CODEC", "LENGTH", "START", "END", "DECODES", "FLAGS"]


def test_segments_table_has_headers_and_whole_file_names(tmp_path):
    d = make_dock(tmp_path)
    media = d.mount / "DCIM" / "100MEDIA"
    media.mkdir(parents=True)
    names = [LONG.format(0, "A"), LONG.format(30, "B")]  # the same first 70 characters
    for i, name in enumerate(names):
        write_opencv_video(media / name, frames=10 + i, fps=10)
    summary = d.run()
    assert summary.segments == 2, summary
    d.ledger.close()
    cfg = tmp_path / "bodycam.toml"
    cfg.write_text('[agent]\ndock_id = "dock-1"\ndata_dir = "."\n', encoding="utf-8")

    res = CliRunner().invoke(cli, ["--config", str(cfg), "segments"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == HEADER
    assert len(lines) == 3
    for name, line in zip(names, lines[1:], strict=True):
        assert f"  DCIM/100MEDIA/{name}  " in line  # whole, in its own column
        assert line.split()[0] == "rec-SN123"
        assert line.index("DCIM/") == lines[0].index("FILE")  # aligned under its header
    rows = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "segments", "--json"]).output)["segments"]
    assert [r["source_name"].rsplit("/", 1)[-1] for r in rows] == names
