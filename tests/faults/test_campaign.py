"""The fault campaign, short and seeded (issue 17; A2 Art.8: footage complete and unaltered; A2
Art.16: custody survives failures). CI runs 3 trials of 4 faults: every fault kind once or more.
The full run: ``pytest tests/faults --seed 17 --trials 30`` (or ``scripts/faults.py``)."""

from __future__ import annotations

from tests.faults.campaign import FAULT_KINDS, CampaignConfig, run_campaign

CI_SEED, CI_TRIALS, CI_FAULTS = 20261202, 3, 4


def test_a2_art8_art16_fault_campaign_loses_nothing_doubles_nothing(request, tmp_path):
    def opt(name):  # defined by tests/faults/conftest.py; None when that conftest was loaded late
        return request.config.getoption(name, default=None)
    cfg = CampaignConfig(seed=opt("--seed") or CI_SEED, trials=opt("--trials") or CI_TRIALS,
                         faults=opt("--faults") or CI_FAULTS, workdir=tmp_path, log=print)
    report = run_campaign(cfg)
    print(report.text())
    assert report.violations == [], report.text()
    assert len(report.trials) == cfg.trials
    injected = report.faults_by_kind()
    assert sum(injected.values()) == cfg.trials * cfg.faults
    if cfg.trials * cfg.faults >= len(FAULT_KINDS):
        assert all(injected[k] >= 1 for k in FAULT_KINDS), injected
    assert all(t.recover_s is not None for t in report.trials)
    assert all(t.entries > 0 and t.files > 0 for t in report.trials)
