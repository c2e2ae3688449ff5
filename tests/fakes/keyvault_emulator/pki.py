"""The emulator's own PKI: a CA (two if Entra gets separate trust) and server certificates."""
import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=30)
_BACKDATE = datetime.timedelta(hours=1)   # tolerate small clock differences


@dataclass
class ServerFiles:
    cert_file: str
    key_file: str


@dataclass
class TlsMaterial:
    ca_file: str           # trust for the vault / HSM / control listeners
    entra_ca_file: str     # trust for the Entra listener (== ca_file unless separate)
    server: ServerFiles    # vault / HSM / control
    entra_server: ServerFiles

    def server_context(self, entra: bool = False) -> ssl.SSLContext:
        files = self.entra_server if entra else self.server
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(files.cert_file, files.key_file)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keybroker test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _make_ca(common_name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(common_name), _name(common_name), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _make_server(ca_key, ca_cert, common_name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (_builder(_name(common_name), ca_cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False,
                                         key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(san, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _write_server(state_dir: str, prefix: str, key, cert) -> ServerFiles:
    files = ServerFiles(os.path.join(state_dir, f"{prefix}-cert.pem"),
                        os.path.join(state_dir, f"{prefix}-key.pem"))
    _write(files.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.key_file, key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), 0o600)
    return files


def create(state_dir: str, separate_entra_ca: bool) -> TlsMaterial:
    """Generates the CA(s) and server certificates (SAN localhost, 127.0.0.1) into state_dir.

    CA private keys stay in memory: nothing outside this process can sign with them.
    """
    ca_key, ca_cert = _make_ca("keyvault-emulator CA")
    ca_file = os.path.join(state_dir, "ca.pem")
    _write(ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    server = _write_server(state_dir, "server", *_make_server(ca_key, ca_cert, "keyvault-emulator"))
    if not separate_entra_ca:
        return TlsMaterial(ca_file, ca_file, server, server)
    entra_key, entra_cert = _make_ca("keyvault-emulator Entra CA")
    entra_ca_file = os.path.join(state_dir, "entra-ca.pem")
    _write(entra_ca_file, entra_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    entra_server = _write_server(state_dir, "entra-server",
                                 *_make_server(entra_key, entra_cert, "keyvault-emulator entra"))
    return TlsMaterial(ca_file, entra_ca_file, server, entra_server)
