"""A deployment's small X.509 PKI for the broker: a CA, the broker's server certificate, and one
client certificate per dock (and for the archive).

Client certificates let the broker name each dock by its certificate (``use_identity_as_username``)
so a dock's identity on the wire is bound to a key that never leaves it; the ACL then confines it to
its own topics. ECDSA P-256 keeps it compatible with every TLS stack on a Pi.

Layout of ``DIR``::

    ca.crt  ca.key  broker.crt  broker.key  clients/<name>.crt  clients/<name>.key
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bodycam.errors import BodycamError, ConfigError, KeyFileError
from bodycam.files import write_file, write_secret
from bodycam.i18n import _

log = logging.getLogger(__name__)

NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
"""Client names are dock ids (or the archive's identity): they become MQTT user names."""

CA_DAYS = 3650
LEAF_DAYS = 825
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


class PkiError(BodycamError):
    """The PKI directory is missing, incomplete, or would be overwritten."""


@dataclass(frozen=True)
class PkiPaths:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def broker_cert(self) -> Path:
        return self.dir / "broker.crt"

    @property
    def broker_key(self) -> Path:
        return self.dir / "broker.key"

    def client_cert(self, name: str) -> Path:
        return self.dir / "clients" / f"{check_name(name)}.crt"

    def client_key(self, name: str) -> Path:
        return self.dir / "clients" / f"{check_name(name)}.key"


def check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name or ""):
        raise ConfigError(_("client name {name!r} must match {pattern} (lowercase letters, digits, '-')").format(
            name=name, pattern=NAME_PATTERN))
    return name


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        raise PkiError(_("{path}: CA key not found; run `bodycam pki init --dir {dir}` first").format(
            path=path, dir=path.parent))
    if path.stat().st_mode & 0o077:
        raise KeyFileError(_("{path}: private key is readable by others; run `chmod 600 {path}`").format(path=path))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError(_("{path}: not an EC private key").format(path=path))
    return key


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(names)


def _leaf(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str,
          key: ec.EllipticCurvePrivateKey, usage: x509.ObjectIdentifier, hosts: list[str] | None,
          days: int) -> x509.Certificate:
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def init_pki(dir: Path, broker_hosts: list[str] | None = None, *, ca_name: str = "bodycam deployment CA",
             days: int = CA_DAYS) -> PkiPaths:
    """Create the CA and the broker's server certificate (SAN: localhost, 127.0.0.1, ::1 and
    ``broker_hosts``). Refuses to overwrite an existing CA: re-keying means re-issuing every dock."""
    paths = PkiPaths(dir)
    if paths.ca_key.exists() or paths.ca_cert.exists():
        raise PkiError(_("{dir}: a CA already exists; issue certificates with `bodycam pki issue`, or choose "
                         "another --dir").format(dir=paths.ca_cert.parent))
    dir.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     key_cert_sign=True, crl_sign=True, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_secret(paths.ca_key, _key_pem(ca_key), exclusive=True)
    write_file(paths.ca_cert, _cert_pem(ca_cert))
    hosts = [*DEFAULT_HOSTS, *(broker_hosts or [])]
    broker_key = ec.generate_private_key(ec.SECP256R1())
    cn = (broker_hosts or ["localhost"])[0]
    cert = _leaf(ca_cert, ca_key, cn, broker_key, ExtendedKeyUsageOID.SERVER_AUTH, hosts, LEAF_DAYS)
    write_secret(paths.broker_key, _key_pem(broker_key), exclusive=True)
    write_file(paths.broker_cert, _cert_pem(cert))
    log.info("PKI created in %s (broker names: %s)", dir, ", ".join(hosts))
    return paths


def issue_client(dir: Path, name: str, *, days: int = LEAF_DAYS, replace: bool = False) -> tuple[Path, Path]:
    """Issue ``clients/<name>.crt`` / ``.key`` (CN = name = broker user name). Returns (cert, key)."""
    paths = PkiPaths(dir)
    check_name(name)
    if not paths.ca_cert.exists():
        raise PkiError(_("{dir}: no CA here; run `bodycam pki init --dir {dir}` first").format(dir=dir))
    cert_path, key_path = paths.client_cert(name), paths.client_key(name)
    if (key_path.exists() or cert_path.exists()) and not replace:
        raise PkiError(_("{path}: {name!r} already has a certificate; pass --replace to re-issue").format(
            path=cert_path, name=name))
    ca_key = _load_key(paths.ca_key)
    ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf(ca_cert, ca_key, name, key, ExtendedKeyUsageOID.CLIENT_AUTH, None, days)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    write_secret(key_path, _key_pem(key), exclusive=not replace)
    write_file(cert_path, _cert_pem(cert))
    log.info("issued client certificate for %s", name)
    return cert_path, key_path


def describe(dir: Path) -> dict:
    """Names and expiry of what the directory holds (for ``--json`` output)."""
    paths = PkiPaths(dir)
    out: dict = {"dir": str(dir), "ca": None, "broker": None, "clients": {}}

    def info(p: Path) -> dict:
        c = x509.load_pem_x509_certificate(p.read_bytes())
        return {"path": str(p), "subject": c.subject.rfc4514_string(),
                "not_after": c.not_valid_after_utc.isoformat()}

    if paths.ca_cert.exists():
        out["ca"] = info(paths.ca_cert)
    if paths.broker_cert.exists():
        out["broker"] = info(paths.broker_cert)
    clients = dir / "clients"
    if clients.is_dir():
        for p in sorted(clients.glob("*.crt")):
            out["clients"][p.stem] = info(p)
    return out
