"""bodycam.toml: lookup order, validation errors a person can act on, the documented example."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from bodycam.cli import cli
from bodycam.config import BodycamConfig, load_config, render_example
from bodycam.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_is_generated_from_the_models():
    committed = (ROOT / "config" / "bodycam.example.toml").read_text(encoding="utf-8")
    assert committed == render_example(), "run: bodycam config example > config/bodycam.example.toml"


def _fields(model_cls, prefix=""):
    for name, field in model_cls.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            yield from _fields(ann, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def test_every_config_key_is_documented():
    text = render_example()
    for key, field in _fields(BodycamConfig):
        assert field.description, f"{key} has no description"
        assert key.rsplit(".", 1)[-1] in text


def test_example_file_loads(tmp_path):
    cfg, path = load_config(ROOT / "config" / "bodycam.example.toml")
    assert path is not None
    assert cfg.agent.shift_hours == 8.0
    # A relative data_dir is resolved against the file's folder.
    assert cfg.agent.data_dir == (ROOT / "config").resolve()


def test_lookup_order(tmp_path, monkeypatch):
    explicit = tmp_path / "a.toml"
    explicit.write_text('[agent]\ndock_id = "from-flag"\n')
    env = tmp_path / "b.toml"
    env.write_text('[agent]\ndock_id = "from-env"\n')
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "bodycam.toml").write_text('[agent]\ndock_id = "from-cwd"\n')
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("BODYCAM_CONFIG", raising=False)
    assert load_config(None)[0].agent.dock_id == "from-cwd"
    monkeypatch.setenv("BODYCAM_CONFIG", str(env))
    assert load_config(None)[0].agent.dock_id == "from-env"
    assert load_config(explicit)[0].agent.dock_id == "from-flag"


def test_errors_name_file_line_and_key(tmp_path):
    bad = tmp_path / "bodycam.toml"
    bad.write_text('[agent]\nshift_hour = 8\n\n[agent.clock]\nsamples = "many"\n')
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    msg = str(err.value)
    assert f"{bad}:2: agent.shift_hour: unknown key" in msg
    assert f"{bad}:5: agent.clock.samples" in msg


def test_invalid_toml_and_missing_file(tmp_path):
    broken = tmp_path / "x.toml"
    broken.write_text("[agent\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_cli_check_exit_codes(tmp_path):
    bad = tmp_path / "bodycam.toml"
    bad.write_text("[archive]\nretention_days = 30\n")
    result = CliRunner().invoke(cli, ["--config", str(bad), "config", "check"])
    assert result.exit_code == 1
    assert "archive.retention_days" in result.output
    good = tmp_path / "good.toml"
    good.write_text('[agent]\ndock_id = "dock-7"\n')
    result = CliRunner().invoke(cli, ["--config", str(good), "config", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert '"dock-7"' in result.output
