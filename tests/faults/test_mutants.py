"""The campaign can fail (issue 17): run against a temporary copy of the code whose dock forgets
a chunk when it resumes a file, it reports violations (A2 Art.8, 16). The other mutant
(``ack-before-flush``) and longer runs: ``scripts/faults.py --mutant NAME``."""

from __future__ import annotations

from tests.faults.campaign import CampaignConfig, run_campaign
from tests.faults.mutants import MUTANTS, ROOT, mutate, mutated_tree


def test_a2_art16_campaign_catches_a_dock_that_forgets_a_chunk(tmp_path):
    with mutated_tree("forget-chunk") as code:
        assert "MUTANT" in (code / "syncd" / "window.py").read_text()
        cfg = CampaignConfig(seed=7, trials=1, faults=6, only=("sigkill_sync", "net_cut", "sigkill_archive"),
                             recover_timeout_s=10, workdir=tmp_path, code_root=code, log=print)
        report = run_campaign(cfg, mutant="forget-chunk")
    print(report.text())
    found = {v.invariant for v in report.violations}
    assert "archive_holds_what_docks_signed" in found or "converged" in found, report.text()


def test_every_mutant_still_applies_to_the_code(tmp_path):
    """A mutant whose code moved would silently test nothing: each one must still match once."""
    for name, (rel, _old, _new) in MUTANTS.items():
        (tmp_path / name / rel).parent.mkdir(parents=True)
        (tmp_path / name / rel).write_text((ROOT / rel).read_text())
        changed = mutate(tmp_path / name, name)
        assert "MUTANT" in changed.read_text() and changed.read_text() != (ROOT / rel).read_text()
