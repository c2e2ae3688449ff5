"""Keys of one vault or Managed HSM: versions, attributes and the KeyBundle shape (§3)."""
import dataclasses
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from .wire import b64url_encode

VAULT = "vault"
MANAGED_HSM = "managed_hsm"

RSA_SIZES = (2048, 3072, 4096)
AES_SIZES = (128, 192, 256)   # §3.5: "128, 192, or 256 for AES"

# key_ops a key gets when the test does not say: the recorded lists (§3.3, §3.4, §3.5).
_DEFAULT_KEY_OPS = {
    (VAULT, "RSA"): ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
    (VAULT, "RSA-HSM"): ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
    (MANAGED_HSM, "RSA-HSM"): ["wrapKey", "decrypt", "encrypt", "unwrapKey", "sign", "verify"],
    (MANAGED_HSM, "oct-HSM"): ["deriveKey", "wrapKey", "verify", "sign", "unwrapKey",
                               "encrypt", "decrypt"],
}

_KEY_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")   # §1.1


class KeyStoreError(Exception):
    """A control-API request the store refuses (bad type/size, duplicate, unknown key)."""


@dataclass(frozen=True)
class KeyVersion:
    """One immutable key version; updates replace it (so readers see a consistent one)."""
    name: str              # as created; lookups are case-insensitive (§1.1)
    version: str           # 32 lowercase hex (§1.1)
    kty: str               # RSA | RSA-HSM | oct-HSM
    size: int              # bits
    material: object       # RSAPrivateKey, or bytes for AES
    key_ops: tuple
    enabled: bool
    exp: int = None
    nbf: int = None
    created: int = 0
    updated: int = 0

    @property
    def is_rsa(self) -> bool:
        return self.kty in ("RSA", "RSA-HSM")

    def kid(self, base_url: str) -> str:
        """The versioned key id: kid is always versioned (§3.2)."""
        return f"{base_url}/keys/{self.name}/{self.version}"

    def jwk(self, base_url: str) -> dict:
        """The public JWK; symmetric keys release no material (§3.1, §3.5)."""
        key = {"kid": self.kid(base_url), "kty": self.kty, "key_ops": list(self.key_ops)}
        if self.is_rsa:
            numbers = self.material.public_key().public_numbers()
            # n is big-endian, exactly the modulus length, no leading 0x00 (§3.2).
            key["n"] = b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"))
            key["e"] = b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))
        return key

    def attributes(self) -> dict:
        """Key attributes; nbf/exp omitted when unset (§3.2)."""
        attributes = {"enabled": self.enabled}
        if self.nbf is not None:
            attributes["nbf"] = self.nbf
        if self.exp is not None:
            attributes["exp"] = self.exp
        attributes.update(created=self.created, updated=self.updated,
                          recoveryLevel="CustomizedRecoverable+Purgeable",
                          recoverableDays=7, exportable=False)
        return attributes

    def bundle(self, base_url: str) -> dict:
        """The KeyBundle, members in vault order (key, attributes); MHSM sorts at encoding."""
        return {"key": self.jwk(base_url), "attributes": self.attributes()}

    def item(self, base_url: str) -> dict:
        """The KeyItem of a version listing: no key material (§3.6)."""
        return {"kid": self.kid(base_url), "attributes": self.attributes()}


def _new_version_id(kind: str) -> str:
    # Vault versions look like UUIDv4 hex; MHSM versions are just 32 hex (§1.1).
    return uuid.uuid4().hex if kind == VAULT else secrets.token_hex(16)


def _normalise_type(kind: str, kty: str, size: int) -> str:
    """Returns the kty the service would report, or raises KeyStoreError."""
    if kty in ("RSA", "RSA-HSM"):
        if size not in RSA_SIZES:
            raise KeyStoreError(f"RSA key size must be one of {RSA_SIZES}, not {size}")
        # A Managed HSM has only HSM keys: RSA is reported as RSA-HSM (§3.2).
        return "RSA-HSM" if kind == MANAGED_HSM else kty
    if kty in ("oct", "oct-HSM"):
        if kind != MANAGED_HSM:
            raise KeyStoreError("AES (oct-HSM) keys exist only on Managed HSM (§3.5)")
        if size not in AES_SIZES:
            raise KeyStoreError(f"Invalid key size: '{size}'")
        return "oct-HSM"   # even if created as "oct" (§3.2)
    raise KeyStoreError(f"unsupported kty {kty!r}: use RSA, RSA-HSM or oct-HSM")


def _generate_material(kty: str, size: int):
    if kty == "oct-HSM":
        return os.urandom(size // 8)
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


class KeyStore:
    """The keys of one vault or HSM. Safe for concurrent use: one lock guards the map."""

    def __init__(self, kind: str):
        self.kind = kind
        self._lock = threading.Lock()
        self._keys = {}   # guarded by _lock: lower-case name -> [KeyVersion] in creation order

    def create(self, name: str, kty: str, size: int, key_ops=None, enabled: bool = True,
               exp: int = None, nbf: int = None) -> KeyVersion:
        """Creates key `name` with its first version; raises KeyStoreError."""
        if not isinstance(name, str) or not _KEY_NAME.fullmatch(name):
            raise KeyStoreError(f"invalid key name {name!r}: 1-127 of 0-9 a-z A-Z - (§1.1)")
        kty = _normalise_type(self.kind, kty, size)
        with self._lock:   # checked before generating (slow) and again before inserting
            if name.lower() in self._keys:
                raise KeyStoreError(f"key {name} already exists; use add-version")
        ops = key_ops if key_ops is not None else _DEFAULT_KEY_OPS[(self.kind, kty)]
        version = self._new_version(name, kty, size, ops, enabled, exp, nbf)
        with self._lock:
            if name.lower() in self._keys:
                raise KeyStoreError(f"key {name} already exists; use add-version")
            self._keys[name.lower()] = [version]
        return version

    def add_version(self, name: str, key_ops=None, enabled: bool = True,
                    exp: int = None, nbf: int = None) -> KeyVersion:
        """Adds a new latest version of the same type and size (a rotation)."""
        latest = self.get(name)
        if latest is None:
            raise KeyStoreError(f"no key {name}")
        ops = key_ops if key_ops is not None else latest.key_ops
        version = self._new_version(latest.name, latest.kty, latest.size, ops, enabled, exp, nbf)
        with self._lock:
            self._keys[name.lower()].append(version)
        return version

    def get(self, name: str, version: str = None):
        """Returns the version (latest when None; case-insensitive), or None."""
        with self._lock:
            versions = self._keys.get(name.lower(), [])
            if version is None:
                return versions[-1] if versions else None
            return next((v for v in versions if v.version == version.lower()), None)

    def versions(self, name: str):
        """Returns all versions in creation order, or None for an unknown key."""
        with self._lock:
            versions = self._keys.get(name.lower())
            return list(versions) if versions is not None else None

    def update(self, name: str, version: str = None, **changes) -> KeyVersion:
        """Replaces enabled/exp/nbf/key_ops of one version (latest when None)."""
        with self._lock:
            versions = self._keys.get(name.lower(), [])
            index = len(versions) - 1 if version is None else next(
                (i for i, v in enumerate(versions) if v.version == version.lower()), -1)
            if index < 0:
                raise KeyStoreError(f"no key {name}" + (f" version {version}" if version else ""))
            if "key_ops" in changes:
                changes["key_ops"] = tuple(changes["key_ops"])
            updated = dataclasses.replace(versions[index], updated=int(time.time()), **changes)
            versions[index] = updated
            return updated

    def _new_version(self, name, kty, size, key_ops, enabled, exp, nbf) -> KeyVersion:
        # Key generation runs outside the lock: RSA-4096 takes a while.
        now = int(time.time())
        return KeyVersion(name=name, version=_new_version_id(self.kind), kty=kty, size=size,
                          material=_generate_material(kty, size), key_ops=tuple(key_ops),
                          enabled=enabled, exp=exp, nbf=nbf, created=now, updated=now)
