"""Wire helpers shared by every listener: base64url, JSON bodies, responses, errors.

Section references (§n) are to /work/shared/reference/keyvault-protocol.md.
"""
import base64
import binascii
import datetime
import json
import re
from dataclasses import dataclass, field

JSON_CONTENT_TYPE = "application/json; charset=utf-8"  # §7.1, §12

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def b64url_encode(data: bytes) -> str:
    """Returns unpadded base64url: every recorded service output has no '=' (§11)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text) -> bytes:
    """Decodes base64url with or without '=' padding (§11); raises ValueError."""
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    unpadded = text.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise ValueError("not base64url")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    if text != unpadded and text != padded:
        raise ValueError("wrong amount of padding")
    try:
        return base64.urlsafe_b64decode(padded)
    except binascii.Error as e:
        raise ValueError("not base64url") from e


def json_bytes(obj, sort_keys: bool = False) -> bytes:
    """Compact JSON. Managed HSM emits members alphabetically, vaults do not (§3.2)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys).encode("utf-8")


def entra_timestamp(now: float) -> str:
    """Formats `now` like Entra's error timestamps: 2023-05-06 06:03:00Z (§9.4)."""
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class Request:
    """One parsed HTTP request as the listeners' apps see it."""
    method: str
    path: str                  # without the query string
    query: dict                # name -> first value
    headers: object            # email.message.Message: case-insensitive .get()
    body: bytes
    request_id: str            # x-ms-request-id, also the MHSM "Activity ID"
    client_address: str = ""   # the peer's IP address (firewall denials name it)

    @property
    def host_header(self) -> str:
        return self.headers.get("Host", "")


@dataclass
class Response:
    """What a listener's app answers; the server adds Content-Length."""
    status: int
    body: bytes = b""
    headers: list = field(default_factory=list)   # [(name, value)]


def json_response(status: int, obj, headers=(), sort_keys: bool = False) -> Response:
    """A JSON response with Content-Type application/json; charset=utf-8."""
    return Response(status, json_bytes(obj, sort_keys),
                    [("Content-Type", JSON_CONTENT_TYPE), *headers])


class KeyVaultError(Exception):
    """A Key Vault / Managed HSM error: {"error":{"code","message","innererror"?}} (§7.1)."""

    def __init__(self, status: int, code: str, message: str, inner: str = None,
                 headers=(), empty_body: bool = False):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner
        self.headers = list(headers)
        self.empty_body = empty_body   # MHSM's 401 challenge has no body (§2.1)

    def body(self, activity_id: str = None) -> dict:
        """The error object; MHSM messages end with "(Activity ID: <uuid>)" (§7.1)."""
        message = self.message
        if activity_id:
            message = f"{message} (Activity ID: {activity_id})"
        error = {"code": self.code, "message": message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


class EntraError(Exception):
    """An Entra ID token endpoint error, rendered with the §9.4 shape."""

    def __init__(self, status: int, error: str, aadsts: int, message: str):
        super().__init__(f"{status} {error} AADSTS{aadsts}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.message = message


class ImdsError(Exception):
    """An IMDS error: {"error","error_description"} (§9.5)."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.description = description
