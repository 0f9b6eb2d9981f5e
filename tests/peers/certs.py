"""Writes the test PKI used by the TLS tests (PEM files, EC P-256, SHA-256).

    python certs.py --out DIR [--hosts 127.0.0.1,localhost]

Files written to DIR (keys in PKCS#8, readable by the owner only):
    ca.pem, ca-key.pem                     the test CA
    server.pem, server-key.pem             server cert by the CA, SANs = --hosts
    client.pem, client-key.pem             client cert by the CA (mutual TLS)
    other-ca.pem                           an unrelated second CA
    other-server.pem, other-server-key.pem server cert by the other CA ("wrong CA")
    other-client.pem, other-client-key.pem client cert by the other CA
    expired-server.pem, expired-server-key.pem
                                           server cert by the CA, expired yesterday

Certificates are X.509 v3 with the extensions webpki/rustls insist on:
basicConstraints (critical), keyUsage (critical), extendedKeyUsage, subject
alternative names on server certificates (IP SANs for IP addresses), and
subject/authority key identifiers.
"""

import argparse
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANIZATION = "xray-runtime tests"
DAY = datetime.timedelta(days=1)


def _name(common_name):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign=False, digital_signature=False):
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _alt_names(hosts):
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


class Authority:
    def __init__(self, common_name, now):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(common_name)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True, digital_signature=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, common_name, *, usage, hosts=(), not_before, not_after):
        """A leaf certificate and its key; `usage` is an ExtendedKeyUsageOID."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if hosts:
            builder = builder.add_extension(_alt_names(hosts), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def _write_cert(directory, name, cert):
    with open(os.path.join(directory, name), "wb") as file:
        file.write(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(directory, name, key):
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def generate(directory, hosts):
    """Writes the whole set into `directory` (created if needed)."""
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = {"not_before": now - DAY, "not_after": now + 3650 * DAY}
    server_auth, client_auth = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH

    ca = Authority("xray test CA", now)
    _write_cert(directory, "ca.pem", ca.cert)
    _write_key(directory, "ca-key.pem", ca.key)
    leaves = {
        "server": ca.issue(hosts[0], usage=server_auth, hosts=hosts, **valid),
        "client": ca.issue("xray test client", usage=client_auth, **valid),
        "expired-server": ca.issue(
            hosts[0], usage=server_auth, hosts=hosts, not_before=now - 30 * DAY, not_after=now - DAY
        ),
    }
    other = Authority("unrelated test CA", now)
    _write_cert(directory, "other-ca.pem", other.cert)
    leaves["other-server"] = other.issue(hosts[0], usage=server_auth, hosts=hosts, **valid)
    leaves["other-client"] = other.issue("unrelated test client", usage=client_auth, **valid)
    for name, (cert, key) in leaves.items():
        _write_cert(directory, f"{name}.pem", cert)
        _write_key(directory, f"{name}-key.pem", key)


def main():
    parser = argparse.ArgumentParser(description="write the test CA and certificates")
    parser.add_argument("--out", required=True, help="directory for the PEM files")
    parser.add_argument(
        "--hosts",
        default="127.0.0.1,localhost",
        help="comma-separated subject alternative names of the server certificates",
    )
    args = parser.parse_args()
    hosts = [host.strip() for host in args.hosts.split(",") if host.strip()]
    if not hosts:
        parser.error("--hosts needs at least one name")
    generate(args.out, hosts)


if __name__ == "__main__":
    main()
