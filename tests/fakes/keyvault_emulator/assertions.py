"""Client assertions: certificate-signed JWTs (§9.2) and federated tokens (§9.3)."""
import hashlib
import hmac
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .identity import Principal
from .wire import EntraError, b64url_decode

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Entra tolerates small clock differences on nbf; exp is checked strictly so tests can
# present an expired assertion without waiting.
_NBF_SKEW_SECONDS = 60


def verify(assertion: str, principal: Principal, audiences: set, now: float) -> None:
    """Accepts the assertion for `principal` or raises the EntraError Entra would give.
    `audiences` are the lower-case token URLs the JWT's aud may name.

    A registered federated token must match exactly (workload identity, §9.3); otherwise
    the assertion must be a JWT signed by one of the principal's certificates (§9.2).
    """
    federated = principal.federated_token
    if federated and hmac.compare_digest(assertion.encode(), federated.encode()):
        return
    if principal.certificates:
        _verify_jwt(assertion, principal, audiences, now)
        return
    if federated:
        raise EntraError(400, "invalid_request", 70021,
                         "No matching federated identity record found for presented assertion. "
                         "Assertion Audience: 'api://AzureADTokenExchange'.")   # §9.3
    raise _rejected("The key was not found.", "")


def _rejected(reason: str, thumbprint: str) -> EntraError:
    # AADSTS700027 is outside the reference's table (§9.4); best-effort text.
    return EntraError(401, "invalid_client", 700027,
                      f"Client assertion contains an invalid signature. [Reason - {reason}, "
                      f"Thumbprint of key used by client: '{thumbprint}']")


def _malformed() -> EntraError:
    return EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")


def _decode_json(part: str) -> dict:
    try:
        value = json.loads(b64url_decode(part))
    except ValueError:
        raise _malformed() from None
    if not isinstance(value, dict):
        raise _malformed()
    return value


def _verify_jwt(assertion: str, principal: Principal, audiences: set, now: float) -> None:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise _malformed()
    header, claims = _decode_json(parts[0]), _decode_json(parts[1])
    try:
        signature = b64url_decode(parts[2])
    except ValueError:
        raise _malformed() from None
    thumbprint = header.get("x5t#S256") or header.get("x5t") or ""
    certificate = _find_certificate(principal, header)
    if certificate is None:
        raise _rejected("The key was not found.", thumbprint)
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not _signature_ok(certificate.public_key(), header.get("alg"), signed, signature):
        raise _rejected("The provided signature value did not match the expected signature value.",
                        thumbprint)
    _check_claims(claims, principal, audiences, now)


def _find_certificate(principal: Principal, header: dict):
    """The certificate named by x5t#S256 (current MSAL) or x5t (older), per §9.2."""
    for certificate in principal.certificates:
        der = certificate.public_bytes(serialization.Encoding.DER)
        for name, digest in (("x5t#S256", hashlib.sha256), ("x5t", hashlib.sha1)):
            try:
                if name in header and b64url_decode(header[name]) == digest(der).digest():
                    return certificate
            except ValueError:
                pass
    return None


def _signature_ok(public_key, alg, signed: bytes, signature: bytes) -> bool:
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    if alg == "RS256":
        scheme = padding.PKCS1v15()
    elif alg == "PS256":   # current docs: "Use PSS padding" (§9.2)
        scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    else:
        return False
    try:
        public_key.verify(signature, signed, scheme, hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def _check_claims(claims: dict, principal: Principal, audiences: set, now: float) -> None:
    """aud = the token URL, iss = sub = client_id, exp in the future (§9.2)."""
    audience = claims.get("aud")
    audience_list = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a.rstrip("/").lower() in audiences for a in audience_list):
        raise EntraError(401, "invalid_client", 700027,
                         f"Client assertion audience claim does not match the token endpoint. "
                         f"Audience: '{audience}'.")
    for claim in ("iss", "sub"):
        if str(claims.get(claim, "")).lower() != principal.client_id.lower():
            raise EntraError(401, "invalid_client", 700027,
                             f"Client assertion claim '{claim}' must be the client id.")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise EntraError(401, "invalid_client", 700024,
                         "Client assertion is not within its valid time range.")
    if isinstance(nbf, (int, float)) and nbf > now + _NBF_SKEW_SECONDS:
        raise EntraError(401, "invalid_client", 700024,
                         "Client assertion is not within its valid time range.")
