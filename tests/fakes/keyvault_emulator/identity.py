"""The Entra directory: tenants, registered principals and the access tokens issued."""
import dataclasses
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from cryptography import x509

DEFAULT_TOKEN_LIFETIME = 3599   # D8's example expires_in (§9.1)


class DirectoryError(Exception):
    """A control-API registration the directory refuses."""


@dataclass(frozen=True)
class Principal:
    """An app registration / managed identity. Re-registering replaces it."""
    tenant: str
    client_id: str
    object_id: str
    client_secret: str = None
    certificates: tuple = ()          # x509.Certificate, for JWT client assertions (§9.2)
    federated_token: str = None       # workload identity: the exact assertion (§9.3)
    managed_identity: bool = False    # reachable through IMDS (§9.5)
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME


@dataclass(frozen=True)
class AccessToken:
    """What the opaque access token string stands for."""
    client_id: str
    tenant: str
    audience: str        # the resource, e.g. https://vault.azure.net (§1.4)
    expires_at: float


def _parse_certificates(pem):
    if pem is None:
        return ()
    pems = pem if isinstance(pem, list) else [pem]
    try:
        return tuple(x509.load_pem_x509_certificate(p.encode("ascii")) for p in pems)
    except (ValueError, AttributeError) as e:
        raise DirectoryError(f"certificate_pem is not a PEM certificate: {e}") from None


def _optional_str(spec: dict, name: str):
    value = spec.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise DirectoryError(f"{name} must be a non-empty string")
    return value


class Directory:
    """Tenants, principals and tokens. Safe for concurrent use: one lock guards all maps."""

    def __init__(self, default_tenant: str):
        self.default_tenant = default_tenant.lower()
        self._lock = threading.Lock()
        self._principals = {}   # guarded by _lock: lower-case client_id -> Principal
        self._tokens = {}       # guarded by _lock: token string -> AccessToken

    def register(self, spec: dict) -> Principal:
        """Registers (or replaces) a principal from a control-API request."""
        client_id = _optional_str(spec, "client_id")
        if client_id is None:
            raise DirectoryError("client_id is required")
        tenant = (_optional_str(spec, "tenant") or self.default_tenant).lower()
        lifetime = spec.get("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 1:
            raise DirectoryError("token_lifetime_seconds must be a positive integer")
        with self._lock:
            previous = self._principals.get(client_id.lower())
        principal = Principal(
            tenant=tenant, client_id=client_id,
            object_id=previous.object_id if previous else str(uuid.uuid4()),
            client_secret=_optional_str(spec, "client_secret"),
            certificates=_parse_certificates(spec.get("certificate_pem")),
            federated_token=_optional_str(spec, "federated_token"),
            managed_identity=bool(spec.get("managed_identity", False)),
            token_lifetime=lifetime)
        with self._lock:
            self._principals[client_id.lower()] = principal
        return principal

    def principal(self, client_id: str):
        """Returns the principal with this client id (case-insensitive), or None."""
        with self._lock:
            return self._principals.get(client_id.lower())

    def is_known_tenant(self, tenant: str) -> bool:
        """True for the default tenant and every tenant a principal was registered in."""
        tenant = tenant.lower()
        with self._lock:
            return tenant == self.default_tenant or any(
                p.tenant == tenant for p in self._principals.values())

    def managed_identity(self, client_id: str = None, object_id: str = None):
        """The IMDS identity: the one named, else the first registered; None if none."""
        with self._lock:
            candidates = [p for p in self._principals.values() if p.managed_identity]
        if client_id is not None:
            return next((p for p in candidates if p.client_id.lower() == client_id.lower()), None)
        if object_id is not None:
            return next((p for p in candidates if p.object_id.lower() == object_id.lower()), None)
        return candidates[0] if candidates else None

    def issue_token(self, principal: Principal, audience: str) -> tuple:
        """Issues an opaque token; returns (token, AccessToken)."""
        token = secrets.token_urlsafe(48)
        granted = AccessToken(principal.client_id, principal.tenant, audience,
                              time.time() + principal.token_lifetime)
        with self._lock:
            self._tokens[token] = granted
        return token, granted

    def lookup_token(self, token: str):
        """Returns the AccessToken for this string, or None if never issued."""
        with self._lock:
            return self._tokens.get(token)

    def issued_tokens(self) -> list:
        """[{token, client_id, tenant, audience, expires_at}] for every token issued, in
        the order issued (expired ones included)."""
        with self._lock:
            return [{"token": t, "client_id": a.client_id, "tenant": a.tenant,
                     "audience": a.audience, "expires_at": a.expires_at}
                    for t, a in self._tokens.items()]

    def expire_tokens(self, client_id: str = None) -> int:
        """Makes every token (of one client, if given) expired now; returns how many."""
        now = time.time()
        with self._lock:
            chosen = [t for t, a in self._tokens.items()
                      if client_id is None or a.client_id.lower() == client_id.lower()]
            for token in chosen:
                self._tokens[token] = dataclasses.replace(self._tokens[token], expires_at=now)
        return len(chosen)
