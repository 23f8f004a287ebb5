"""Deployment PKI and broker files: certificates, key modes, and the ``bodycam pki|broker`` CLI."""

from __future__ import annotations

import ipaddress
import json
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archive.broker.config import example_deployment, render_acl, render_conf
from archive.broker.pki import PkiError, init_pki, issue_client
from bodycam.cli import cli
from bodycam.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_a_ca_and_a_broker_certificate_for_its_names(tmp_path):
    paths = init_pki(tmp_path / "pki", ["archive.example.gov.cn", "10.0.0.5"])
    ca, broker = _cert(paths.ca_cert), _cert(paths.broker_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    broker.verify_directly_issued_by(ca)
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "archive.example.gov.cn"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {ipaddress.ip_address(a)
                                                              for a in ("127.0.0.1", "::1", "10.0.0.5")}
    eku = broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert _mode(paths.ca_key) == 0o600 and _mode(paths.broker_key) == 0o600
    with pytest.raises(PkiError, match="already exists"):
        init_pki(tmp_path / "pki")


def test_client_certificates_name_the_dock(tmp_path):
    d = tmp_path / "pki"
    init_pki(d)
    cert, key = issue_client(d, "dock-7")
    c = _cert(cert)
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dock-7"
    assert ExtendedKeyUsageOID.CLIENT_AUTH in c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert _mode(key) == 0o600
    out = subprocess.run(["openssl", "verify", "-CAfile", str(d / "ca.crt"), str(cert)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    with pytest.raises(PkiError, match="--replace"):
        issue_client(d, "dock-7")
    cert2, _ = issue_client(d, "dock-7", replace=True)
    assert _cert(cert2).serial_number != c.serial_number
    with pytest.raises(ConfigError):
        issue_client(d, "Dock 7")
    with pytest.raises(PkiError, match="pki init"):
        issue_client(tmp_path / "nowhere", "dock-1")


def test_pki_and_broker_cli(tmp_path):
    runner = CliRunner()
    d = tmp_path / "broker"
    r = runner.invoke(cli, ["pki", "init", "--dir", str(d / "pki"), "--broker-host", "mq.example", "--json"])
    assert r.exit_code == 0, r.output
    assert "mq.example" in json.loads(r.output)["hosts"]
    for name in ("archive", "dock-1"):
        r = runner.invoke(cli, ["pki", "issue", "--dir", str(d / "pki"), "--name", name, "--json"])
        assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["pki", "show", "--dir", str(d / "pki"), "--json"])
    assert r.exit_code == 0 and set(json.loads(r.output)["clients"]) == {"archive", "dock-1"}
    r = runner.invoke(cli, ["pki", "issue", "--dir", str(d / "pki"), "--name", "dock-1"])
    assert r.exit_code == 1 and "--replace" in r.output
    r = runner.invoke(cli, ["broker", "render", "--dir", str(d), "--dock", "dock-1", "--port", "18883", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["identities"] == ["archive", "dock-1"]
    assert _mode(Path(out["passwords"]["dock-1"])) == 0o600 and _mode(Path(out["passwd"])) == 0o600
    assert "listener 18883 0.0.0.0" in Path(out["conf"]).read_text()
    r = runner.invoke(cli, ["broker", "render", "--dir", str(d), "--dock", "archive"])
    assert r.exit_code == 1 and "archive's identity" in r.output


def test_committed_broker_examples_are_generated():
    dep = example_deployment()
    assert (ROOT / "config" / "mosquitto.conf").read_text() == render_conf(dep), \
        "regenerate config/mosquitto.conf from archive.broker.config.example_deployment()"
    assert (ROOT / "config" / "mosquitto.acl").read_text() == render_acl(dep)
