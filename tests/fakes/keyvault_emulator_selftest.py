#!/usr/bin/python3
"""Self-test of the Key Vault / Managed HSM / Entra ID emulator.

Starts the emulator as a subprocess and exercises it over real HTTPS, trusting only the
CA files it generated. Usage: /usr/bin/python3 tests/fakes/keyvault_emulator_selftest.py [-v]
"""
import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT = "11111111-2222-3333-4444-555555555555"
VAULT_SCOPE = "https://vault.azure.net/.default"
HSM_SCOPE = "https://managedhsm.azure.net/.default"
VERSION = re.compile(r"[0-9a-f]{32}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Reply:
    status: int
    headers: object
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)

    def error_code(self):
        return self.json["error"]["code"]

    def inner_code(self):
        return self.json["error"].get("innererror", {}).get("code")


class Emulator:
    """The emulator as a subprocess, and helpers to call its listeners over HTTPS."""

    def __init__(self, *args, stderr=None):
        self.state_dir = tempfile.mkdtemp(prefix="kv-emulator-selftest-")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "keyvault_emulator"), "--state-dir",
             self.state_dir, "--exit-on-stdin-eof", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator exited before its ready line")
        self.ready = json.loads(line)
        self.kv_tls = ssl.create_default_context(cafile=self.ready["ca_file"])
        self.entra_tls = ssl.create_default_context(cafile=self.ready["entra_ca_file"])

    def url(self, host: str) -> str:
        return self.ready["hosts"][host]["url"]

    def stop(self) -> int:
        """Sends SIGTERM; returns the exit status."""
        self.process.terminate()
        status = self.process.wait(timeout=20)
        self.process.stdin.close()
        self.process.stdout.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return status

    def request(self, url: str, method: str, path: str, body=None, headers=None,
                context=None) -> Reply:
        parts = urllib.parse.urlsplit(url)
        if context is None:
            context = self.entra_tls if url == self.ready["hosts"].get("entra", {}).get("url") \
                else self.kv_tls
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context,
                                                 timeout=30)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def control(self, path: str, body=None, method: str = "POST") -> dict:
        reply = self.request(self.ready["control"], method, f"/control/{path}", body or {})
        if reply.status != 200:
            raise AssertionError(f"control {path}: {reply.status} {reply.body!r}")
        return reply.json

    def token_request(self, form: dict, tenant: str = TENANT) -> Reply:
        return self.request(self.url("entra"), "POST", f"/{tenant}/oauth2/v2.0/token",
                            urllib.parse.urlencode(form),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def token(self, client_id: str, secret: str, scope: str = VAULT_SCOPE) -> str:
        reply = self.token_request({"grant_type": "client_credentials", "client_id": client_id,
                                    "client_secret": secret, "scope": scope})
        assert reply.status == 200, reply.body
        return reply.json["access_token"]

    def keys_call(self, host: str, method: str, path: str, token: str = None, body=None,
                  api_version: str = "7.4") -> Reply:
        query = f"?api-version={api_version}" if api_version else ""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.request(self.url(host), method, path + query, body, headers)


EMULATOR = None


def setUpModule():
    global EMULATOR
    EMULATOR = Emulator("--vault", "kv1", "--hsm", "hsm1", "--entra", "--separate-entra-ca")


def tearDownModule():
    EMULATOR.stop()


def new_principal(hosts=("kv1", "hsm1"), **extra) -> tuple:
    """Registers a fresh principal with a client secret; returns (client_id, secret)."""
    client_id, secret = str(uuid.uuid4()), f"s3cret~{uuid.uuid4().hex}"
    EMULATOR.control("register-principal", {"tenant": TENANT, "client_id": client_id,
                                            "client_secret": secret, "hosts": list(hosts), **extra})
    return client_id, secret


def new_key(host: str, kty: str, size: int, **extra) -> dict:
    name = f"k-{uuid.uuid4().hex[:12]}"
    return EMULATOR.control("create-key", {"host": host, "name": name, "kty": kty,
                                           "size": size, **extra})


def key_path(bundle: dict, op: str = None) -> str:
    """/keys/{name}/{version}[/op] from a KeyBundle's kid."""
    path = urllib.parse.urlsplit(bundle["key"]["kid"]).path
    return f"{path}/{op}" if op else path


def public_key(bundle: dict):
    numbers = rsa.RSAPublicNumbers(int.from_bytes(unb64url(bundle["key"]["e"]), "big"),
                                   int.from_bytes(unb64url(bundle["key"]["n"]), "big"))
    return numbers.public_key()


OAEP_256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class ChallengeAndTokenTest(unittest.TestCase):
    def test_vault_challenge_without_token(self):
        reply = EMULATOR.keys_call("kv1", "GET", "/keys/any")
        self.assertEqual(reply.status, 401)
        self.assertEqual(reply.headers["WWW-Authenticate"],
                         f'Bearer authorization="https://login.windows.net/{TENANT}", '
                         'resource="https://vault.azure.net"')
        self.assertEqual(reply.json, {"error": {
            "code": "Unauthorized",
            "message": "AKV10000: Request is missing a Bearer or PoP token."}})
        self.assertEqual(reply.headers["Content-Type"], "application/json; charset=utf-8")
        self.assertIsNotNone(reply.headers["x-ms-keyvault-service-version"])

    def test_hsm_challenge_has_empty_body(self):
        reply = EMULATOR.keys_call("hsm1", "POST", "/keys/any/wrapkey")
        self.assertEqual(reply.status, 401)
        self.assertEqual(reply.body, b"")
        self.assertIn('resource="https://managedhsm.azure.net"', reply.headers["WWW-Authenticate"])

    def test_client_secret_token_flow(self):
        client_id, secret = new_principal()
        reply = EMULATOR.token_request({"grant_type": "client_credentials", "client_id": client_id,
                                        "client_secret": secret, "scope": VAULT_SCOPE})
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.json["token_type"], "Bearer")
        self.assertEqual(reply.json["expires_in"], 3599)
        self.assertEqual(reply.json["ext_expires_in"], 3599)
        self.assertEqual(EMULATOR.keys_call("kv1", "GET", "/keys/none", reply.json["access_token"])
                         .status, 404)

    def test_token_errors(self):
        client_id, secret = new_principal()
        base = {"grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret, "scope": VAULT_SCOPE}
        cases = [({"client_secret": "wrong"}, TENANT, 401, "invalid_client", 7000215),
                 ({"client_id": str(uuid.uuid4())}, TENANT, 400, "unauthorized_client", 700016),
                 ({}, str(uuid.uuid4()), 400, "invalid_tenant", 90002),
                 ({"scope": "https://vault.azure.net"}, TENANT, 400, "invalid_scope", 70011),
                 ({"scope": "https://example.com/.default"}, TENANT, 400, "invalid_scope", 70011)]
        for change, tenant, status, error, code in cases:
            with self.subTest(error=error, change=change):
                reply = EMULATOR.token_request({**base, **change}, tenant)
                self.assertEqual(reply.status, status)
                self.assertEqual(reply.json["error"], error)
                self.assertEqual(reply.json["error_codes"], [code])
                self.assertTrue(reply.json["error_description"].startswith(f"AADSTS{code}: "))
                self.assertNotIn(secret, reply.body.decode())

    def test_token_for_other_audience_is_rejected(self):
        client_id, secret = new_principal()
        hsm_token = EMULATOR.token(client_id, secret, HSM_SCOPE)
        reply = EMULATOR.keys_call("kv1", "GET", "/keys/none", hsm_token)
        self.assertEqual(reply.status, 401)
        self.assertTrue(reply.json["error"]["message"].startswith(
            "AKV10022: Invalid audience. Expected https://vault.azure.net, found: "
            "https://managedhsm.azure.net"))

    def test_unknown_token_is_rejected(self):
        reply = EMULATOR.keys_call("kv1", "GET", "/keys/none", "not-a-token")
        self.assertEqual((reply.status, reply.error_code()), (401, "Unauthorized"))

    def test_token_expiry(self):
        bundle = new_key("kv1", "RSA", 2048)   # first: key generation may outlast the token
        client_id, secret = new_principal(token_lifetime_seconds=1)
        reply = EMULATOR.token_request({"grant_type": "client_credentials", "client_id": client_id,
                                        "client_secret": secret, "scope": VAULT_SCOPE})
        self.assertEqual(reply.json["expires_in"], 1)
        token = reply.json["access_token"]
        self.assertEqual(EMULATOR.keys_call("kv1", "GET", key_path(bundle), token).status, 200)
        time.sleep(2)
        reply = EMULATOR.keys_call("kv1", "GET", key_path(bundle), token)
        self.assertEqual(reply.status, 401)
        self.assertEqual(reply.json["error"]["message"],
                         "[TokenExpired] Error validating token: 'S2S12086'.")
        self.assertIn("WWW-Authenticate", reply.headers)

    def test_expire_tokens_and_other_tenant(self):
        client_id, secret = new_principal()
        token = EMULATOR.token(client_id, secret)
        expired = EMULATOR.control("expire-tokens", {"client_id": client_id})
        self.assertEqual(expired, {"expired": 1})
        reply = EMULATOR.keys_call("kv1", "GET", "/keys/none", token)
        self.assertIn("TokenExpired", reply.json["error"]["message"])
        other_tenant = str(uuid.uuid4())
        EMULATOR.control("register-principal", {"tenant": other_tenant, "client_id": client_id,
                                                "client_secret": secret, "hosts": ["kv1"]})
        reply = EMULATOR.token_request({"grant_type": "client_credentials", "client_id": client_id,
                                        "client_secret": secret, "scope": VAULT_SCOPE},
                                       other_tenant)
        reply = EMULATOR.keys_call("kv1", "GET", "/keys/none", reply.json["access_token"])
        self.assertEqual(reply.status, 401)
        self.assertTrue(reply.json["error"]["message"].startswith("AKV10032: Invalid issuer."))

    def test_issued_tokens_are_listed(self):
        client_id, secret = new_principal()
        vault_token = EMULATOR.token(client_id, secret)
        hsm_token = EMULATOR.token(client_id, secret, HSM_SCOPE)
        tokens = [t for t in EMULATOR.control("tokens", method="GET")["tokens"]
                  if t["client_id"] == client_id]
        self.assertEqual([(t["token"], t["tenant"], t["audience"]) for t in tokens],
                         [(vault_token, TENANT, "https://vault.azure.net"),
                          (hsm_token, TENANT, "https://managedhsm.azure.net")])
        self.assertTrue(all(t["expires_at"] > time.time() for t in tokens))

    def test_api_version_is_required_and_must_be_one_key_vault_knows(self):
        client_id, secret = new_principal()
        token = EMULATOR.token(client_id, secret)
        # 7.3 was recorded working (R1, R8); 2025-07-01 is what current SDKs send.
        for version in ("7.3", "7.4", "7.5", "7.6", "2025-07-01", "7.6-preview.2", "2016-10-01"):
            with self.subTest(version=version):
                reply = EMULATOR.keys_call("kv1", "GET", "/keys/x", token, api_version=version)
                self.assertEqual((reply.status, reply.error_code()), (404, "KeyNotFound"))
        for version in (None, "7.7", "7.4%20", "2025-07-02", "latest"):
            with self.subTest(version=version):
                reply = EMULATOR.keys_call("kv1", "GET", "/keys/x", token, api_version=version)
                self.assertEqual((reply.status, reply.error_code()), (400, "BadParameter"))
        reply = EMULATOR.keys_call("kv1", "GET", "/keys/x", token, api_version="7.7")
        self.assertEqual(reply.json["error"]["message"],
                         "The specified version (7.7) is not recognized. Consider using the "
                         "latest supported version (2025-07-01).")


class KeysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        client_id, secret = new_principal()
        cls.token = EMULATOR.token(client_id, secret)
        cls.hsm_token = EMULATOR.token(client_id, secret, HSM_SCOPE)

    def test_get_key_latest_and_by_version(self):
        first = new_key("kv1", "RSA", 2048)
        name = first["key"]["kid"].split("/")[4]
        second = EMULATOR.control("add-version", {"host": "kv1", "name": name})
        for path in (f"/keys/{name}", f"/keys/{name}/"):
            with self.subTest(path=path):
                reply = EMULATOR.keys_call("kv1", "GET", path, self.token)
                self.assertEqual(reply.status, 200)
                self.assertEqual(reply.json["key"]["kid"], second["key"]["kid"])
        reply = EMULATOR.keys_call("kv1", "GET", key_path(first), self.token)
        self.assertEqual(reply.json["key"]["kid"], first["key"]["kid"])
        self.assertTrue(reply.body.startswith(b'{"key":'))   # vault order: key, attributes
        self.assertTrue(VERSION.fullmatch(first["key"]["kid"].rsplit("/", 1)[1]))
        self.assertEqual(len(unb64url(reply.json["key"]["n"])), 256)
        self.assertNotIn("=", reply.json["key"]["n"])
        self.assertEqual(reply.json["key"]["e"], "AQAB")
        self.assertTrue(VERSION.fullmatch(reply.headers["x-ms-request-id"].replace("-", "")))

    def test_unknown_key_and_version(self):
        bundle = new_key("kv1", "RSA", 2048)
        for path in ("/keys/no-such-key", key_path(bundle)[:-32] + "0" * 32):
            with self.subTest(path=path):
                reply = EMULATOR.keys_call("kv1", "GET", path, self.token)
                self.assertEqual((reply.status, reply.error_code()), (404, "KeyNotFound"))
                self.assertTrue(reply.json["error"]["message"].startswith("A key with (name/id) "))

    def test_hsm_bundles_are_alphabetical_and_aes_has_no_material(self):
        bundle = new_key("hsm1", "oct-HSM", 256)
        reply = EMULATOR.keys_call("hsm1", "GET", key_path(bundle), self.hsm_token)
        self.assertEqual(reply.status, 200)
        self.assertTrue(reply.body.startswith(b'{"attributes":'))
        self.assertEqual(set(reply.json["key"]), {"kid", "kty", "key_ops"})
        self.assertEqual(reply.json["key"]["kty"], "oct-HSM")
        self.assertNotIn("x-ms-keyvault-service-version", reply.headers)

    def test_rotate_creates_a_new_latest_version(self):
        bundle = new_key("kv1", "RSA", 2048)
        name = bundle["key"]["kid"].split("/")[4]
        reply = EMULATOR.keys_call("kv1", "POST", f"/keys/{name}/rotate", self.token)
        self.assertEqual(reply.status, 200)
        self.assertNotEqual(reply.json["key"]["kid"], bundle["key"]["kid"])
        latest = EMULATOR.keys_call("kv1", "GET", f"/keys/{name}", self.token)
        self.assertEqual(latest.json["key"]["kid"], reply.json["key"]["kid"])

    def test_list_versions(self):
        bundle = new_key("kv1", "RSA", 2048)
        name = bundle["key"]["kid"].split("/")[4]
        EMULATOR.control("add-version", {"host": "kv1", "name": name})
        reply = EMULATOR.keys_call("kv1", "GET", f"/keys/{name}/versions", self.token)
        kids = [item["kid"] for item in reply.json["value"]]
        self.assertEqual(len(kids), 2)
        self.assertEqual(kids, sorted(kids))
        self.assertIsNone(reply.json["nextLink"])
        first_page = EMULATOR.keys_call("kv1", "GET", f"/keys/{name}/versions", self.token,
                                        api_version="7.4&maxresults=1")
        self.assertEqual([i["kid"] for i in first_page.json["value"]], kids[:1])
        next_link = urllib.parse.urlsplit(first_page.json["nextLink"])
        second_page = EMULATOR.request(EMULATOR.url("kv1"), "GET",
                                       f"{next_link.path}?{next_link.query}", None,
                                       {"Authorization": f"Bearer {self.token}"})
        self.assertEqual([i["kid"] for i in second_page.json["value"]], kids[1:])


class CryptoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        client_id, secret = new_principal()
        cls.token = EMULATOR.token(client_id, secret)
        cls.hsm_token = EMULATOR.token(client_id, secret, HSM_SCOPE)

    def test_local_rsa_wrap_is_unwrapped_by_the_emulator(self):
        for host, kty, token in (("kv1", "RSA", self.token), ("hsm1", "RSA-HSM", self.hsm_token)):
            for size in (2048, 3072, 4096):
                with self.subTest(host=host, size=size):
                    bundle = new_key(host, kty, size)
                    dek = os.urandom(32)
                    wrapped = public_key(bundle).encrypt(dek, OAEP_256)
                    self.assertEqual(len(wrapped), size // 8)
                    reply = EMULATOR.keys_call(host, "POST", key_path(bundle, "unwrapkey"), token,
                                               {"alg": "RSA-OAEP-256", "value": b64url(wrapped)})
                    self.assertEqual(reply.status, 200, reply.body)
                    self.assertEqual(unb64url(reply.json["value"]), dek)
                    self.assertEqual(reply.json["kid"], bundle["key"]["kid"])
                    self.assertEqual("alg" in reply.json, host == "hsm1")   # MHSM echoes alg

    def test_wrapkey_then_unwrapkey_padded_input_and_op_case(self):
        bundle = new_key("kv1", "RSA", 2048)
        padded = base64.urlsafe_b64encode(os.urandom(32)).decode()   # ends with '='
        reply = EMULATOR.keys_call("kv1", "POST", key_path(bundle, "wrapKey"), self.token,
                                   {"alg": "RSA-OAEP", "value": padded})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(len(reply.json["value"]), 342)
        reply = EMULATOR.keys_call("kv1", "POST", key_path(bundle, "unwrapKey"), self.token,
                                   {"alg": "RSA-OAEP", "value": reply.json["value"]})
        self.assertEqual(unb64url(reply.json["value"]), unb64url(padded.rstrip("=")))

    def test_unwrapkey_errors(self):
        bundle = new_key("kv1", "RSA", 2048)
        cases = [(b64url(os.urandom(256)), "Error occurred while decoding OAEP padding."),
                 ("not*base64", "Content of 'value' is not base64url.")]
        for value, message in cases:
            with self.subTest(message=message):
                reply = EMULATOR.keys_call("kv1", "POST", key_path(bundle, "unwrapkey"), self.token,
                                           {"alg": "RSA-OAEP-256", "value": value})
                self.assertEqual((reply.status, reply.error_code()), (400, "BadParameter"))
                self.assertEqual(reply.json["error"]["message"], message)

    def test_hsm_aes_gcm_round_trip_with_aad(self):
        bundle = new_key("hsm1", "oct-HSM", 256)
        plaintext, aad = os.urandom(32), b"tenant=a;topic=orders"
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "encrypt"), self.hsm_token,
                                   {"alg": "A256GCM", "value": b64url(plaintext),
                                    "aad": b64url(aad)})
        self.assertEqual(reply.status, 200, reply.body)
        sealed = reply.json
        self.assertEqual(len(unb64url(sealed["iv"])), 12)
        self.assertEqual(len(unb64url(sealed["tag"])), 16)
        self.assertEqual(len(unb64url(sealed["value"])), 32)
        self.assertEqual(unb64url(sealed["aad"]), aad)
        self.assertEqual(sealed["alg"], "A256GCM")
        decrypt = {"alg": "A256GCM", "value": sealed["value"], "iv": sealed["iv"],
                   "tag": sealed["tag"], "aad": sealed["aad"]}
        opened = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "decrypt"), self.hsm_token,
                                    decrypt)
        self.assertEqual(opened.status, 200, opened.body)
        self.assertEqual(unb64url(opened.json["value"]), plaintext)
        self.assertNotIn("iv", opened.json)
        wrong_aad = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "decrypt"),
                                       self.hsm_token, {**decrypt, "aad": b64url(b"other")})
        self.assertEqual((wrong_aad.status, wrong_aad.error_code()), (400, "BadParameter"))

    def test_hsm_aes_gcm_encrypt_refuses_a_client_iv(self):
        bundle = new_key("hsm1", "oct-HSM", 256)
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "encrypt"), self.hsm_token,
                                   {"alg": "A256GCM", "value": b64url(os.urandom(32)),
                                    "iv": b64url(os.urandom(12))})
        self.assertEqual((reply.status, reply.error_code()), (400, "BadParameter"))
        self.assertIn("'iv'", reply.json["error"]["message"])

    def test_hsm_aes_cbc_with_the_clients_iv(self):
        bundle = new_key("hsm1", "oct-HSM", 256)
        iv, plaintext = os.urandom(16), b"thirty-three bytes of plaintext!!"
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "encrypt"), self.hsm_token,
                                   {"alg": "A256CBCPAD", "value": b64url(plaintext),
                                    "iv": b64url(iv)})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(len(unb64url(reply.json["value"])), 48)   # PKCS#7 to whole blocks
        opened = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "decrypt"), self.hsm_token,
                                    {"alg": "A256CBCPAD", "value": reply.json["value"],
                                     "iv": b64url(iv)})
        self.assertEqual(unb64url(opened.json["value"]), plaintext)
        blocks = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "encrypt"), self.hsm_token,
                                    {"alg": "A256CBC", "value": b64url(plaintext[:32]),
                                     "iv": b64url(iv)})
        self.assertEqual(len(unb64url(blocks.json["value"])), 32)   # no padding
        # Plain CBC chaining under one iv: the padded ciphertext starts with the same blocks.
        self.assertEqual(unb64url(blocks.json["value"]), unb64url(reply.json["value"])[:32])
        for body in ({"alg": "A256CBC", "value": b64url(plaintext), "iv": b64url(iv)},
                     {"alg": "A256CBCPAD", "value": b64url(plaintext)},
                     {"alg": "A128CBCPAD", "value": b64url(plaintext), "iv": b64url(iv)}):
            with self.subTest(body=body):
                reply = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "encrypt"),
                                           self.hsm_token, body)
                self.assertEqual((reply.status, reply.error_code()), (400, "BadParameter"))

    def test_hsm_aes_key_wrap(self):
        bundle = new_key("hsm1", "oct-HSM", 256)
        dek = os.urandom(32)
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "wrapkey"), self.hsm_token,
                                   {"alg": "A256KW", "value": b64url(dek)})
        self.assertEqual(len(unb64url(reply.json["value"])), 40)   # input + 8 (§4.2)
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(bundle, "unwrapkey"), self.hsm_token,
                                   {"alg": "A256KW", "value": reply.json["value"]})
        self.assertEqual(unb64url(reply.json["value"]), dek)

    def test_rng_count_bounds(self):
        for count in (1, 128):
            with self.subTest(count=count):
                reply = EMULATOR.keys_call("hsm1", "POST", "/rng", self.hsm_token, {"count": count})
                self.assertEqual(reply.status, 200)
                self.assertEqual(len(unb64url(reply.json["value"])), count)
        for count in (0, 129, "16"):
            with self.subTest(count=count):
                reply = EMULATOR.keys_call("hsm1", "POST", "/rng", self.hsm_token, {"count": count})
                self.assertEqual((reply.status, reply.error_code()), (400, "BadParameter"))
        reply = EMULATOR.keys_call("kv1", "POST", "/rng", self.token, {"count": 4})
        self.assertEqual(reply.status, 404)   # rng exists on Managed HSM only


class KeyStateAndAccessTest(unittest.TestCase):
    def setUp(self):
        self.client_id, secret = new_principal()
        self.token = EMULATOR.token(self.client_id, secret)
        self.hsm_token = EMULATOR.token(self.client_id, secret, HSM_SCOPE)

    def unwrap_local(self, bundle) -> Reply:
        wrapped = public_key(bundle).encrypt(os.urandom(32), OAEP_256)
        return EMULATOR.keys_call("kv1", "POST", key_path(bundle, "unwrapkey"), self.token,
                                  {"alg": "RSA-OAEP-256", "value": b64url(wrapped)})

    def test_revoke_gives_forbidden_by_rbac_and_restore_gives_200(self):
        bundle = new_key("kv1", "RSA", 2048)
        EMULATOR.control("revoke", {"host": "kv1", "client_id": self.client_id})
        reply = self.unwrap_local(bundle)
        self.assertEqual((reply.status, reply.error_code(), reply.inner_code()),
                         (403, "Forbidden", "ForbiddenByRbac"))
        self.assertIn("Microsoft.KeyVault/vaults/keys/unwrap/action",
                      reply.json["error"]["message"])
        EMULATOR.control("grant", {"host": "kv1", "client_id": self.client_id})
        self.assertEqual(self.unwrap_local(bundle).status, 200)

    def test_hsm_revoke_gives_access_denied(self):
        EMULATOR.control("revoke", {"host": "hsm1", "client_id": self.client_id})
        reply = EMULATOR.keys_call("hsm1", "POST", "/rng", self.hsm_token, {"count": 8})
        self.assertEqual((reply.status, reply.error_code()), (403, "AccessDenied"))
        self.assertRegex(reply.json["error"]["message"], r"\(Activity ID: [0-9a-f-]{36}\)$")

    def test_per_operation_grant(self):
        bundle = new_key("kv1", "RSA", 2048)
        name = bundle["key"]["kid"].split("/")[4]
        EMULATOR.control("revoke", {"host": "kv1", "client_id": self.client_id,
                                    "operations": ["rotate"]})
        reply = EMULATOR.keys_call("kv1", "POST", f"/keys/{name}/rotate", self.token)
        self.assertEqual((reply.status, reply.inner_code()), (403, "ForbiddenByRbac"))
        self.assertEqual(EMULATOR.keys_call("kv1", "GET", f"/keys/{name}", self.token).status, 200)

    def test_disabled_key_refuses_unwrap_and_decrypt_but_wraps_and_encrypts(self):
        bundle = new_key("kv1", "RSA", 2048)
        name = bundle["key"]["kid"].split("/")[4]
        EMULATOR.control("set-attributes", {"host": "kv1", "name": name, "enabled": False})
        reply = EMULATOR.keys_call("kv1", "GET", key_path(bundle), self.token)
        self.assertEqual((reply.status, reply.json["attributes"]["enabled"]), (200, False))
        reply = self.unwrap_local(bundle)
        self.assertEqual((reply.status, reply.error_code(), reply.inner_code()),
                         (403, "Forbidden", "KeyDisabled"))
        self.assertEqual(reply.json["error"]["message"],
                         "Operation unwrapKey is not allowed on a disabled key.")
        # The public-key operations still work on a disabled key (I-py-45342, §7.2).
        for op in ("wrapkey", "encrypt"):
            with self.subTest(op=op):
                reply = EMULATOR.keys_call("kv1", "POST", key_path(bundle, op), self.token,
                                           {"alg": "RSA-OAEP-256", "value": b64url(b"k" * 32)})
                self.assertEqual(reply.status, 200, reply.body)
                undone = EMULATOR.keys_call(
                    "kv1", "POST", key_path(bundle, "decrypt" if op == "encrypt" else "unwrapkey"),
                    self.token, {"alg": "RSA-OAEP-256", "value": reply.json["value"]})
                self.assertEqual((undone.status, undone.inner_code()), (403, "KeyDisabled"))
        aes = new_key("hsm1", "oct-HSM", 256, enabled=False)
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(aes, "encrypt"), self.hsm_token,
                                   {"alg": "A256GCM", "value": b64url(b"k" * 32)})
        self.assertEqual(reply.status, 200, reply.body)
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(aes, "decrypt"), self.hsm_token,
                                   {"alg": "A256GCM", "value": reply.json["value"],
                                    "iv": reply.json["iv"], "tag": reply.json["tag"]})
        self.assertEqual((reply.status, reply.inner_code()), (403, "KeyDisabled"))

    def test_expired_key_refuses_wrap_but_still_unwraps(self):
        bundle = new_key("kv1", "RSA", 2048, exp=int(time.time()) - 60)
        reply = EMULATOR.keys_call("kv1", "POST", key_path(bundle, "wrapkey"), self.token,
                                   {"alg": "RSA-OAEP-256", "value": b64url(os.urandom(32))})
        self.assertEqual((reply.status, reply.error_code()), (403, "Forbidden"))
        self.assertEqual(self.unwrap_local(bundle).status, 200)

    def test_operation_not_in_key_ops(self):
        bundle = new_key("kv1", "RSA", 2048, key_ops=["wrapKey"])
        reply = self.unwrap_local(bundle)
        self.assertEqual((reply.status, reply.inner_code()), (403, "KeyOperationForbidden"))


class FaultsAndCountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        client_id, cls.secret = new_principal()
        cls.client_id = client_id
        cls.token = EMULATOR.token(client_id, cls.secret)
        cls.bundle = new_key("kv1", "RSA", 2048)

    def tearDown(self):
        EMULATOR.control("clear-faults")

    def unwrap(self) -> Reply:
        wrapped = public_key(self.bundle).encrypt(b"k" * 32, OAEP_256)
        return EMULATOR.keys_call("kv1", "POST", key_path(self.bundle, "unwrapkey"), self.token,
                                  {"alg": "RSA-OAEP-256", "value": b64url(wrapped)})

    def test_injected_429_with_retry_after(self):
        EMULATOR.control("fault", {"host": "kv1", "status": 429, "retry_after": 2, "count": 1,
                                   "path_contains": "unwrapkey"})
        reply = EMULATOR.keys_call("kv1", "GET", key_path(self.bundle), self.token)
        self.assertEqual(reply.status, 200)   # path_contains: only unwrapkey is hit
        reply = self.unwrap()
        self.assertEqual((reply.status, reply.error_code()), (429, "Throttled"))
        self.assertEqual(reply.headers["Retry-After"], "2")
        self.assertEqual(self.unwrap().status, 200)

    def test_faults_hit_token_requests_before_auth(self):
        EMULATOR.control("fault", {"host": "entra", "status": 503, "count": 1})
        reply = EMULATOR.token_request({"grant_type": "client_credentials"})
        self.assertEqual((reply.status, reply.json["error"]), (503, "temporarily_unavailable"))
        self.assertTrue(EMULATOR.token(self.client_id, self.secret))

    def test_dropped_connection(self):
        EMULATOR.control("drop", {"host": "kv1", "count": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            self.unwrap()
        self.assertEqual(self.unwrap().status, 200)

    def test_latency(self):
        EMULATOR.control("latency", {"host": "kv1", "ms": 400, "count": 1})
        start = time.monotonic()
        self.assertEqual(self.unwrap().status, 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.4)

    def test_counts(self):
        EMULATOR.control("reset-counts")
        EMULATOR.keys_call("kv1", "GET", key_path(self.bundle), self.token)
        EMULATOR.keys_call("kv1", "GET", key_path(self.bundle), self.token)
        self.unwrap()
        EMULATOR.token(self.client_id, self.secret)
        EMULATOR.request(EMULATOR.url("entra"), "GET",
                         "/metadata/identity/oauth2/token?api-version=2018-02-01", None,
                         {"Metadata": "true"})
        counts = EMULATOR.control("counts", method="GET")
        self.assertEqual(counts, {"kv1": {"get_key": 2, "unwrapkey": 1}, "hsm1": {},
                                  "entra": {"token": 1, "imds": 1}})
        EMULATOR.control("reset-counts")
        self.assertEqual(EMULATOR.control("counts", method="GET")["kv1"], {})

    def test_request_ids_of_vault_and_hsm_responses(self):
        EMULATOR.control("clear-requests")
        ok = EMULATOR.keys_call("kv1", "GET", key_path(self.bundle), self.token)
        EMULATOR.control("fault", {"host": "kv1", "status": 503, "count": 1})
        faulted = self.unwrap()
        EMULATOR.control("drop", {"host": "kv1", "count": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            self.unwrap()   # no response, nothing logged
        challenged = EMULATOR.keys_call("hsm1", "POST", "/rng", None, {"count": 8})
        EMULATOR.control("revoke", {"host": "kv1", "client_id": self.client_id,
                                    "operations": ["unwrapkey"]})
        try:
            refused = self.unwrap()
        finally:
            EMULATOR.control("grant", {"host": "kv1", "client_id": self.client_id})
        EMULATOR.token(self.client_id, self.secret)   # Entra responses are not logged
        self.assertEqual([r.status for r in (ok, faulted, challenged, refused)],
                         [200, 503, 401, 403])
        path = key_path(self.bundle)
        requests = EMULATOR.control("requests", method="GET")["requests"]
        self.assertEqual(requests, [
            {"host": "kv1", "method": "GET", "path": path, "status": 200,
             "operation": "get_key", "request_id": ok.headers["x-ms-request-id"]},
            {"host": "kv1", "method": "POST", "path": f"{path}/unwrapkey", "status": 503,
             "operation": "unwrapkey", "request_id": faulted.headers["x-ms-request-id"]},
            {"host": "hsm1", "method": "POST", "path": "/rng", "status": 401,
             "operation": "rng", "request_id": challenged.headers["x-ms-request-id"]},
            {"host": "kv1", "method": "POST", "path": f"{path}/unwrapkey", "status": 403,
             "operation": "unwrapkey", "request_id": refused.headers["x-ms-request-id"]}])
        ids = [r["request_id"] for r in requests]
        self.assertEqual(len(set(ids)), len(ids))
        for request_id in ids:
            self.assertEqual(str(uuid.UUID(request_id)), request_id)
        EMULATOR.control("clear-requests")
        self.assertEqual(EMULATOR.control("requests", method="GET"), {"requests": []})

    def test_response_log_keeps_the_last_thousand(self):
        from keyvault_emulator.faults import ResponseLog   # in-process: 1001 requests are slow
        log = ResponseLog()
        for i in range(1001):
            log.add("kv1", "GET", "/keys/k", 200, "get_key", str(i))
        entries = log.snapshot()
        self.assertEqual((len(entries), entries[0]["request_id"], entries[-1]["request_id"]),
                         (1000, "1", "1000"))


class NamingTest(unittest.TestCase):
    """kid and nextLink name the vault by its own URL (§1.1, §3.6), not the Host header."""

    @classmethod
    def setUpClass(cls):
        client_id, secret = new_principal()
        cls.token = EMULATOR.token(client_id, secret)
        cls.hsm_token = EMULATOR.token(client_id, secret, HSM_SCOPE)

    def tearDown(self):
        EMULATOR.control("set-host", {"host": "kv1", "public_url": "https://kv1.vault.azure.net"})

    def test_ready_line_and_kid_use_the_azure_name_whatever_the_host_header(self):
        self.assertEqual(EMULATOR.ready["hosts"]["kv1"]["public_url"], "https://kv1.vault.azure.net")
        self.assertEqual(EMULATOR.ready["hosts"]["hsm1"]["public_url"],
                         "https://hsm1.managedhsm.azure.net")
        self.assertNotIn("public_url", EMULATOR.ready["hosts"]["entra"])
        bundle = new_key("kv1", "RSA", 2048)
        name = bundle["key"]["kid"].split("/")[4]
        self.assertTrue(bundle["key"]["kid"].startswith(f"https://kv1.vault.azure.net/keys/{name}/"))
        for host_header in (None, "other-name.example:8443"):
            with self.subTest(host_header=host_header):
                headers = {"Authorization": f"Bearer {self.token}"}
                if host_header:
                    headers["Host"] = host_header
                reply = EMULATOR.request(EMULATOR.url("kv1"), "GET",
                                         f"{key_path(bundle)}?api-version=7.4", None, headers)
                self.assertEqual(reply.json["key"]["kid"], bundle["key"]["kid"])
        aes = new_key("hsm1", "oct-HSM", 256)
        reply = EMULATOR.keys_call("hsm1", "POST", key_path(aes, "encrypt"), self.hsm_token,
                                   {"alg": "A256GCM", "value": b64url(b"k" * 32)})
        self.assertEqual(reply.json["kid"], aes["key"]["kid"])
        self.assertTrue(aes["key"]["kid"].startswith("https://hsm1.managedhsm.azure.net/keys/"))

    def test_next_link_names_the_vault_with_its_port_and_the_callers_api_version(self):
        bundle = new_key("kv1", "RSA", 2048)
        name = bundle["key"]["kid"].split("/")[4]
        EMULATOR.control("add-version", {"host": "kv1", "name": name})
        reply = EMULATOR.keys_call("kv1", "GET", f"/keys/{name}/versions", self.token,
                                   api_version="7.6&maxresults=1")
        self.assertEqual(reply.json["nextLink"],
                         f"https://kv1.vault.azure.net:443/keys/{name}/versions?api-version=7.6"
                         "&$skiptoken=1&maxresults=1")

    def test_set_host_public_url(self):
        EMULATOR.control("set-host", {"host": "kv1", "public_url": "https://renamed.example:9443/"})
        bundle = new_key("kv1", "RSA", 2048)
        self.assertTrue(bundle["key"]["kid"].startswith("https://renamed.example:9443/keys/"))
        reply = EMULATOR.keys_call("kv1", "GET", key_path(bundle), self.token)
        self.assertEqual(reply.json["key"]["kid"], bundle["key"]["kid"])
        for bad in ("http://plain.example", "https://x.example/path", "https://x:port", "x"):
            with self.subTest(bad=bad):
                reply = EMULATOR.request(EMULATOR.ready["control"], "POST", "/control/set-host",
                                         {"host": "kv1", "public_url": bad})
                self.assertEqual(reply.status, 400)

    def test_listener_names(self):
        emulator = Emulator("--vault", "kv7", "--public-names", "listener")
        try:
            url = emulator.url("kv7")
            self.assertEqual(emulator.ready["hosts"]["kv7"]["public_url"], url)
            bundle = emulator.control("create-key", {"host": "kv7", "name": "k", "kty": "RSA",
                                                     "size": 2048})
            self.assertTrue(bundle["key"]["kid"].startswith(f"{url}/keys/k/"))
        finally:
            emulator.stop()


class DenialVariantsTest(unittest.TestCase):
    """The 403s of §7.2 beyond RBAC: access policies and the firewall, as host state and as
    injected faults."""

    @classmethod
    def setUpClass(cls):
        cls.bundle = new_key("kv1", "RSA", 2048)

    def setUp(self):
        self.client_id, secret = new_principal()
        self.token = EMULATOR.token(self.client_id, secret)
        self.hsm_token = EMULATOR.token(self.client_id, secret, HSM_SCOPE)

    def tearDown(self):
        for host in ("kv1", "hsm1"):
            EMULATOR.control("set-host", {"host": host, "firewall_deny": False})
        EMULATOR.control("set-host", {"host": "kv1", "permission_model": "rbac"})
        EMULATOR.control("clear-faults")

    def get(self, host="kv1", token=None) -> Reply:
        path = key_path(self.bundle) if host == "kv1" else "/keys/none"
        return EMULATOR.keys_call(host, "GET", path, token or self.token)

    def test_access_policy_denial(self):
        answer = EMULATOR.control("set-host", {"host": "kv1", "permission_model": "access_policy"})
        self.assertEqual(answer["permission_model"], "access_policy")
        EMULATOR.control("revoke", {"host": "kv1", "client_id": self.client_id,
                                    "operations": ["get_key"]})
        reply = self.get()
        self.assertEqual((reply.status, reply.error_code(), reply.inner_code()),
                         (403, "Forbidden", "ForbiddenByPolicy"))
        principal = self.client_id
        self.assertRegex(reply.json["error"]["message"],
                         rf"^The user, group or application 'appid={principal};oid=[0-9a-f-]{{36}};"
                         rf"iss=https://sts.windows.net/{TENANT}/' does not have keys get "
                         r"permission on key vault 'kv1;location=westus'\. For help resolving")
        reply = EMULATOR.request(EMULATOR.ready["control"], "POST", "/control/set-host",
                                 {"host": "hsm1", "permission_model": "access_policy"})
        self.assertEqual(reply.status, 400)   # Managed HSM is RBAC only

    def test_firewall_denial_comes_after_the_challenge(self):
        EMULATOR.control("set-host", {"host": "kv1", "firewall_deny": True})
        self.assertEqual(EMULATOR.keys_call("kv1", "GET", key_path(self.bundle)).status, 401)
        reply = self.get()
        self.assertEqual((reply.status, reply.error_code(), reply.inner_code()),
                         (403, "Forbidden", "ForbiddenByFirewall"))
        self.assertTrue(reply.json["error"]["message"].startswith(
            "Client address (127.0.0.1) is not authorized and caller is not a trusted service."))
        self.assertIn(f"Caller: appid={self.client_id};", reply.json["error"]["message"])
        EMULATOR.control("set-host", {"host": "hsm1", "firewall_deny": True})
        reply = self.get("hsm1", self.hsm_token)
        self.assertEqual((reply.status, reply.inner_code()), (403, "ForbiddenByFirewall"))
        self.assertRegex(reply.json["error"]["message"], r"\(Activity ID: [0-9a-f-]{36}\)$")
        EMULATOR.control("set-host", {"host": "kv1", "firewall_deny": False})
        self.assertEqual(self.get().status, 200)

    def test_injected_403_faults(self):
        cases = [({}, "ForbiddenByRbac"), ({"forbidden": "rbac"}, "ForbiddenByRbac"),
                 ({"forbidden": "access_policy"}, "ForbiddenByPolicy"),
                 ({"forbidden": "firewall"}, "ForbiddenByFirewall")]
        for extra, inner in cases:
            with self.subTest(inner=inner):
                EMULATOR.control("fault", {"host": "kv1", "status": 403, "count": 1, **extra})
                reply = self.get()
                self.assertEqual((reply.status, reply.error_code(), reply.inner_code()),
                                 (403, "Forbidden", inner))
                self.assertIn(f"appid={self.client_id};", reply.json["error"]["message"])
                self.assertEqual(self.get().status, 200)   # count 1: the next one is served
        EMULATOR.control("fault", {"host": "hsm1", "status": 403, "count": 1})
        reply = self.get("hsm1", self.hsm_token)
        self.assertEqual((reply.status, reply.error_code()), (403, "AccessDenied"))
        for forbidden in ("rbac", "access_policy"):   # on a path that is no operation there
            with self.subTest(path="/rng", forbidden=forbidden):
                EMULATOR.control("fault", {"host": "kv1", "status": 403, "count": 1,
                                           "forbidden": forbidden})
                reply = EMULATOR.keys_call("kv1", "POST", "/rng", self.token, {"count": 4})
                self.assertEqual((reply.status, reply.error_code()), (403, "Forbidden"))
        for spec in ({"host": "entra", "status": 403}, {"host": "kv1", "status": 404},
                     {"host": "kv1", "status": 403, "forbidden": "nope"},
                     {"host": "kv1", "status": 429, "forbidden": "firewall"},
                     {"host": "hsm1", "status": 403, "forbidden": "access_policy"}):
            with self.subTest(spec=spec):
                reply = EMULATOR.request(EMULATOR.ready["control"], "POST", "/control/fault", spec)
                self.assertIn(reply.status, (400, 404), reply.body)


class OpenIdDiscoveryTest(unittest.TestCase):
    def test_v2_discovery_document_names_the_token_endpoint_here(self):
        entra = EMULATOR.url("entra")
        EMULATOR.control("reset-counts")
        reply = EMULATOR.request(entra, "GET", f"/{TENANT}/v2.0/.well-known/openid-configuration")
        self.assertEqual(reply.status, 200, reply.body)
        document = reply.json
        self.assertEqual(document["token_endpoint"], f"{entra}/{TENANT}/oauth2/v2.0/token")
        self.assertEqual(document["issuer"], f"{entra}/{TENANT}/v2.0")
        self.assertEqual(document["authorization_endpoint"],
                         f"{entra}/{TENANT}/oauth2/v2.0/authorize")
        self.assertIn("private_key_jwt", document["token_endpoint_auth_methods_supported"])
        self.assertEqual(EMULATOR.control("counts", method="GET")["entra"],
                         {"openid_configuration": 1})
        # The token endpoint it names works.
        client_id, secret = new_principal()
        parts = urllib.parse.urlsplit(document["token_endpoint"])
        form = {"grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret, "scope": VAULT_SCOPE}
        reply = EMULATOR.request(entra, "POST", parts.path, urllib.parse.urlencode(form),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(reply.status, 200, reply.body)

    def test_v1_document_common_and_unknown_tenants(self):
        entra = EMULATOR.url("entra")
        reply = EMULATOR.request(entra, "GET", f"/{TENANT}/.well-known/openid-configuration")
        self.assertEqual(reply.json["token_endpoint"], f"{entra}/{TENANT}/oauth2/token")
        self.assertEqual(reply.json["issuer"], f"https://sts.windows.net/{TENANT}/")
        reply = EMULATOR.request(entra, "GET", "/common/v2.0/.well-known/openid-configuration")
        self.assertEqual(reply.json["issuer"], f"{entra}/{{tenantid}}/v2.0")
        reply = EMULATOR.request(entra, "GET",
                                 f"/{uuid.uuid4()}/v2.0/.well-known/openid-configuration")
        self.assertEqual((reply.status, reply.json["error"], reply.json["error_codes"]),
                         (400, "invalid_tenant", [90002]))


def _certificate_and_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keybroker client")])
    now = time.time()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime.fromtimestamp(now - 60, datetime.timezone.utc))
            .not_valid_after(datetime.datetime.fromtimestamp(now + 3600, datetime.timezone.utc))
            .sign(key, hashes.SHA256()))
    return cert, key


def _jwt(key, cert, client_id: str, audience: str, alg: str = "PS256",
         exp_offset: int = 600) -> str:
    """A client assertion as MSAL builds it (§9.2)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    header = {"alg": alg, "typ": "JWT"}
    if alg == "PS256":
        header["x5t#S256"] = b64url(hashlib.sha256(der).digest())
    else:
        header["x5t"] = b64url(hashlib.sha1(der).digest())
    now = int(time.time())
    claims = {"aud": audience, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()),
              "nbf": now, "iat": now, "exp": now + exp_offset}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    scheme = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
              if alg == "PS256" else padding.PKCS1v15())
    return f"{signing_input}.{b64url(key.sign(signing_input.encode(), scheme, hashes.SHA256()))}"


class CredentialsTest(unittest.TestCase):
    def assertion_form(self, client_id: str, assertion: str) -> dict:
        return {"grant_type": "client_credentials", "client_id": client_id, "scope": VAULT_SCOPE,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion}

    def test_certificate_jwt_credential(self):
        cert, key = _certificate_and_key()
        client_id = str(uuid.uuid4())
        EMULATOR.control("register-principal", {
            "tenant": TENANT, "client_id": client_id, "hosts": ["kv1"],
            "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode()})
        audience = f"{EMULATOR.url('entra')}/{TENANT}/oauth2/v2.0/token"
        for alg in ("PS256", "RS256"):
            with self.subTest(alg=alg):
                reply = EMULATOR.token_request(self.assertion_form(
                    client_id, _jwt(key, cert, client_id, audience, alg)))
                self.assertEqual(reply.status, 200, reply.body)
                bundle = new_key("kv1", "RSA", 2048)
                self.assertEqual(EMULATOR.keys_call("kv1", "GET", key_path(bundle),
                                                    reply.json["access_token"]).status, 200)
        _, other_key = _certificate_and_key()
        bad = {"wrong key": _jwt(other_key, cert, client_id, audience),
               "wrong audience": _jwt(key, cert, client_id, "https://login.microsoftonline.com/x"),
               "expired": _jwt(key, cert, client_id, audience, exp_offset=-10)}
        for reason, assertion in bad.items():
            with self.subTest(reason=reason):
                reply = EMULATOR.token_request(self.assertion_form(client_id, assertion))
                self.assertEqual((reply.status, reply.json["error"]), (401, "invalid_client"))

    def test_workload_identity_federated_token(self):
        client_id, federated = str(uuid.uuid4()), f"eyJ.projected.{uuid.uuid4().hex}"
        EMULATOR.control("register-principal", {"tenant": TENANT, "client_id": client_id,
                                                "federated_token": federated, "hosts": ["kv1"]})
        reply = EMULATOR.token_request(self.assertion_form(client_id, federated))
        self.assertEqual(reply.status, 200, reply.body)
        reply = EMULATOR.token_request(self.assertion_form(client_id, "eyJ.other.token"))
        self.assertEqual((reply.status, reply.json["error"], reply.json["error_codes"]),
                         (400, "invalid_request", [70021]))

    def test_imds_with_and_without_metadata_header(self):
        client_id = str(uuid.uuid4())
        EMULATOR.control("register-principal", {"tenant": TENANT, "client_id": client_id,
                                                "managed_identity": True, "hosts": ["kv1"]})
        path = ("/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                f"{urllib.parse.quote('https://vault.azure.net', safe='')}&client_id={client_id}")
        reply = EMULATOR.request(EMULATOR.url("entra"), "GET", path)
        self.assertEqual((reply.status, reply.json["error"]), (400, "bad_request_102"))
        reply = EMULATOR.request(EMULATOR.url("entra"), "GET", path, None, {"Metadata": "true"})
        self.assertEqual(reply.status, 200, reply.body)
        for field in ("expires_in", "expires_on", "not_before"):
            self.assertIsInstance(reply.json[field], str)   # strings in IMDS (§9.5)
        self.assertEqual(reply.json["resource"], "https://vault.azure.net")
        bundle = new_key("kv1", "RSA", 2048)
        self.assertEqual(EMULATOR.keys_call("kv1", "GET", key_path(bundle),
                                            reply.json["access_token"]).status, 200)


class TlsAndLifecycleTest(unittest.TestCase):
    def test_untrusted_client_fails_the_handshake(self):
        for host in ("kv1", "entra"):
            with self.subTest(host=host):
                with self.assertRaises(ssl.SSLCertVerificationError):
                    EMULATOR.request(EMULATOR.url(host), "GET", "/",
                                     context=ssl.create_default_context())

    def test_entra_has_its_own_ca(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            EMULATOR.request(EMULATOR.url("entra"), "GET", "/", context=EMULATOR.kv_tls)

    def test_keep_alive(self):
        parts = urllib.parse.urlsplit(EMULATOR.url("kv1"))
        connection = http.client.HTTPSConnection(parts.hostname, parts.port,
                                                 context=EMULATOR.kv_tls)
        connection.request("GET", "/keys/a?api-version=7.4")
        first = connection.getresponse()
        self.assertEqual(int(first.headers["Content-Length"]), len(first.read()))
        sock = connection.sock
        connection.request("GET", "/keys/b?api-version=7.4")
        connection.getresponse().read()
        self.assertIs(connection.sock, sock)   # the same TLS connection served both
        connection.close()

    def test_a_client_gone_before_its_answer_leaves_no_traceback(self):
        # The soak (docs/reliability.md) SIGKILLs brokers with requests in flight: the
        # emulator printed a traceback for each answer it could no longer write.
        with tempfile.TemporaryFile("w+") as stderr:
            emulator = Emulator("--vault", "kv8", stderr=stderr)
            emulator.control("latency", {"host": "kv8", "ms": 300, "count": -1})
            host, port = urllib.parse.urlsplit(emulator.url("kv8"))[1].split(":")
            for _ in range(3):
                raw = socket.create_connection((host, int(port)))
                with emulator.kv_tls.wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(b"GET /keys/x?api-version=7.4 HTTP/1.1\r\nHost: kv8\r\n\r\n")
                # Closed before the delayed answer is written.
            time.sleep(1)   # the answers are attempted after the latency
            reply = emulator.request(emulator.url("kv8"), "GET", "/keys/x?api-version=7.4")
            self.assertEqual(reply.status, 401)   # still serving
            self.assertEqual(emulator.stop(), 0)
            stderr.seek(0)
            self.assertNotIn("Traceback", stderr.read())

    def test_sigterm_exits_cleanly(self):
        emulator = Emulator("--vault", "kv9")
        self.assertEqual(set(emulator.ready["hosts"]), {"kv9"})
        self.assertEqual(emulator.stop(), 0)


if __name__ == "__main__":
    unittest.main()
