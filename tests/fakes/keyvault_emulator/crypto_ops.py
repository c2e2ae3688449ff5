"""wrapkey / unwrapkey / encrypt / decrypt on one key version (§4, §5, §7.2)."""
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from .keys import MANAGED_HSM, KeyVersion
from .wire import KeyVaultError, b64url_decode, b64url_encode

CRYPTO_OPS = ("wrapkey", "unwrapkey", "encrypt", "decrypt")

# The key_ops entry each operation needs (§3.2 spelling).
_KEY_OP_NAME = {"wrapkey": "wrapKey", "unwrapkey": "unwrapKey",
                "encrypt": "encrypt", "decrypt": "decrypt"}

# exp/nbf are honoured by encrypt/wrapKey only; decrypt/unwrap still succeed (§7.2, I-net-7677).
_TIME_BOUND_OPS = ("wrapkey", "encrypt")

# A disabled key still encrypts and wraps: the one live observation (I-py-45342, §7.2, §14.3)
# has the service allow the public-key operations and refuse only decrypt/unwrap. A client
# must refuse to wrap under a disabled key itself, from the key's attributes.
_REFUSED_WHEN_DISABLED = ("unwrapkey", "decrypt")


def _oaep(digest):
    # RSA-OAEP-256 is SHA-256 with MGF1-SHA-256, empty label; RSA-OAEP is SHA-1 for both (§10).
    return padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)


_RSA_PADDINGS = {
    "RSA-OAEP-256": lambda: _oaep(hashes.SHA256()),
    "RSA-OAEP": lambda: _oaep(hashes.SHA1()),
    "RSA1_5": padding.PKCS1v15,
}
_GCM_SIZES = {"A128GCM": 128, "A192GCM": 192, "A256GCM": 256}
_KW_SIZES = {"A128KW": 128, "A192KW": 192, "A256KW": 256}
_CBC_SIZES = {"A128CBC": 128, "A192CBC": 192, "A256CBC": 256,
              "A128CBCPAD": 128, "A192CBCPAD": 192, "A256CBCPAD": 256}


def _bad(message: str) -> KeyVaultError:
    return KeyVaultError(400, "BadParameter", message)


def parse_parameters(body: bytes) -> dict:
    """Parses KeyOperationsParameters {alg, value, iv?, aad?, tag?} (§4.1); raises 400."""
    try:
        params = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise _bad("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise _bad("Property 'alg' is required.\r\nProperty 'value' is required.\r\n")
    alg = params.get("alg")
    if not isinstance(alg, str) or not alg:
        raise _bad("Property 'alg' is required.")
    if "value" not in params or params["value"] is None:
        raise _bad("Property 'value' is required.")
    parsed = {"alg": alg}
    for name in ("value", "iv", "aad", "tag"):
        if params.get(name) is None:
            continue
        try:
            parsed[name] = b64url_decode(params[name])
        except ValueError:
            # I-bruj0-20: the one recorded message for this (§7.2, §11).
            raise _bad(f"Content of '{name}' is not base64url.") from None
    return parsed


def check_usable(key: KeyVersion, op: str, now: float) -> None:
    """Raises the 403 the service gives for a key the operation may not use (§7.2)."""
    op_name = _KEY_OP_NAME[op]
    if not key.enabled and op in _REFUSED_WHEN_DISABLED:
        raise KeyVaultError(403, "Forbidden",
                            f"Operation {op_name} is not allowed on a disabled key.",
                            inner="KeyDisabled")
    if op_name not in key.key_ops:
        raise KeyVaultError(403, "Forbidden", f"Operation {op_name} is not permitted on this key.",
                            inner="KeyOperationForbidden")
    if op in _TIME_BOUND_OPS:
        # §7.2/§14.4: 403 Forbidden is documented; the exact code/innererror was never
        # observed, so none is invented here (README "Assumptions").
        if key.exp is not None and key.exp <= now:
            raise KeyVaultError(403, "Forbidden",
                                f"Operation {op_name} is not allowed on an expired key.")
        if key.nbf is not None and key.nbf > now:
            raise KeyVaultError(403, "Forbidden", f"Operation {op_name} is not allowed on "
                                                  "a key that is not yet valid.")


def run(op: str, key: KeyVersion, params: dict, kind: str, base_url: str) -> dict:
    """Performs `op` and returns the KeyOperationResult (§4.1); raises KeyVaultError 400."""
    alg = params["alg"]
    if key.is_rsa:
        result = _rsa(op, key, alg, params["value"])
    elif op in ("encrypt", "decrypt") and alg in _CBC_SIZES:
        result = _aes_cbc(op, key, alg, params)
    elif op in ("encrypt", "decrypt"):
        result = _aes_gcm(op, key, alg, params)
    else:
        result = _aes_kw(op, key, alg, params["value"])
    result["kid"] = key.kid(base_url)
    if kind == MANAGED_HSM:
        result["alg"] = alg   # MHSM echoes alg, vaults do not (§4.1)
    return result


def _rsa(op: str, key: KeyVersion, alg: str, value: bytes) -> dict:
    make_padding = _RSA_PADDINGS.get(alg)
    if make_padding is None:
        raise _bad(f"Algorithm '{alg}' is not supported for key type '{key.kty}'.")
    if op in ("wrapkey", "encrypt"):
        try:
            output = key.material.public_key().encrypt(value, make_padding())
        except ValueError:
            raise _bad("The length of 'value' is too large for the key and algorithm.") from None
        return {"value": b64url_encode(output)}
    try:
        output = key.material.decrypt(value, make_padding())
    except ValueError:
        # §4.2: unwrap of a corrupted ciphertext / wrong key / wrong algorithm.
        scheme = "PKCS1" if alg == "RSA1_5" else "OAEP"
        raise _bad(f"Error occurred while decoding {scheme} padding.") from None
    return {"value": b64url_encode(output)}


def _check_aes_alg(key: KeyVersion, alg: str, sizes: dict) -> None:
    # SDKs always pair algorithm and key sizes (§4.2); a mismatch is refused here.
    if sizes.get(alg) != key.size:
        raise _bad(f"Algorithm '{alg}' is not supported for key type '{key.kty}' "
                   f"of size {key.size}.")


def _aes_gcm(op: str, key: KeyVersion, alg: str, params: dict) -> dict:
    _check_aes_alg(key, alg, _GCM_SIZES)
    aad = params.get("aad")
    if op == "encrypt":
        # §5: the service generates the 12-byte IV and returns a separate 16-byte tag.
        # Whether it refuses or ignores a client's iv is [UNVERIFIED]; refusing is the
        # strict choice: a client that sends one expects an IV the service never uses.
        if "iv" in params:
            raise _bad("The 'iv' parameter is not supported for AES-GCM encryption: Managed "
                       "HSM generates the initialization vector.")
        iv = os.urandom(12)
        sealed = AESGCM(key.material).encrypt(iv, params["value"], aad)
        result = {"value": b64url_encode(sealed[:-16]), "iv": b64url_encode(iv),
                  "tag": b64url_encode(sealed[-16:])}
        if aad is not None:
            result["aad"] = b64url_encode(aad)   # echoed only when supplied (§5)
        return result
    iv, tag = params.get("iv"), params.get("tag")
    if iv is None or tag is None:
        raise _bad("Properties 'iv' and 'tag' are required for AES-GCM decryption.")
    if len(iv) != 12 or len(tag) != 16:
        raise _bad("Invalid length of 'iv' or 'tag' for AES-GCM.")
    try:
        plaintext = AESGCM(key.material).decrypt(iv, params["value"] + tag, aad)
    except InvalidTag:
        raise _bad("Error occurred while decrypting: the authentication tag does not "
                   "match.") from None
    return {"value": b64url_encode(plaintext)}   # no iv/tag/aad in the decrypt response (§5)


def _aes_cbc(op: str, key: KeyVersion, alg: str, params: dict) -> dict:
    """A*CBC (no padding: whole blocks only) and A*CBCPAD (PKCS#7), with the client's
    16-byte iv (§5, R3): Managed HSM does not make CBC IVs, clients must send one
    (Azure/azure-sdk-for-net#16175). The encrypt result echoes the iv ([UNVERIFIED])."""
    _check_aes_alg(key, alg, _CBC_SIZES)
    iv, value = params.get("iv"), params["value"]
    if iv is None or len(iv) != 16:
        raise _bad(f"Property 'iv' of 16 bytes is required for {alg}.")
    cipher = Cipher(algorithms.AES(key.material), modes.CBC(iv))
    padded = alg.endswith("PAD")
    try:
        if op == "encrypt":
            if padded:
                padder = block_padding.PKCS7(128).padder()
                value = padder.update(value) + padder.finalize()
            encryptor = cipher.encryptor()
            sealed = encryptor.update(value) + encryptor.finalize()
            return {"value": b64url_encode(sealed), "iv": b64url_encode(iv)}
        decryptor = cipher.decryptor()
        plaintext = decryptor.update(value) + decryptor.finalize()
        if padded:
            unpadder = block_padding.PKCS7(128).unpadder()
            plaintext = unpadder.update(plaintext) + unpadder.finalize()
    except ValueError:   # not whole blocks, or bad padding
        raise _bad(f"Error occurred while processing {alg}: the data is not whole blocks "
                   "or its padding is invalid.") from None
    return {"value": b64url_encode(plaintext)}


def _aes_kw(op: str, key: KeyVersion, alg: str, value: bytes) -> dict:
    # §14.1: A256GCM on wrapkey is undocumented and unobserved; only AES-KW is accepted.
    _check_aes_alg(key, alg, _KW_SIZES)
    try:
        if op == "wrapkey":
            return {"value": b64url_encode(aes_key_wrap(key.material, value))}
        return {"value": b64url_encode(aes_key_unwrap(key.material, value))}
    except (ValueError, InvalidUnwrap):
        raise _bad("Error occurred while processing the AES key wrap.") from None
