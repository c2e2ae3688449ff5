"""The control API tests drive the emulator with (JSON over HTTPS, no auth, /control/...).

Control requests are neither counted, nor in the response log (GET /control/requests), nor
subject to injected faults. See README.md.
"""
import json
import urllib.parse

from . import denials
from .faults import DROP, LATENCY, STATUS, Fault
from .identity import DirectoryError
from .keys import MANAGED_HSM, KeyStoreError
from .state import KEY_OPERATIONS, Emulator
from .wire import Request, Response, json_response


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _field(spec: dict, name: str, kind, required: bool = False, default=None):
    """spec[name] checked against `kind` (bool is not an int here)."""
    value = spec.get(name, default)
    if value is None:
        if required:
            raise ControlError(400, f"'{name}' is required")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ControlError(400, f"'{name}' must be {getattr(kind, '__name__', kind)}")
    return value


def _string_list(spec: dict, name: str, allowed=None):
    values = _field(spec, name, list)
    if values is None:
        return None
    if not all(isinstance(v, str) for v in values):
        raise ControlError(400, f"'{name}' must be a list of strings")
    unknown = sorted(set(values) - set(allowed)) if allowed is not None else []
    if unknown:
        raise ControlError(400, f"'{name}' has unknown entries {unknown}; allowed {list(allowed)}")
    return values


def _is_base_url(url: str) -> bool:
    """https://host[:port] with nothing after it."""
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port   # raises on a port that is not a number
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and parts.path in ("", "/") \
        and not parts.query and not parts.fragment


def _count(spec: dict) -> int:
    count = _field(spec, "count", int, default=1)
    if count == 0:
        raise ControlError(400, "'count' must be positive, or negative for 'until cleared'")
    return count


class ControlApp:
    """Serves /control/*. Stateless itself; safe for concurrent use."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self._routes = {
            ("POST", "/control/create-key"): self._create_key,
            ("POST", "/control/add-version"): self._add_version,
            ("POST", "/control/set-attributes"): self._set_attributes,
            ("POST", "/control/register-principal"): self._register_principal,
            ("POST", "/control/grant"): self._grant,
            ("POST", "/control/revoke"): self._revoke,
            ("POST", "/control/set-host"): self._set_host,
            ("POST", "/control/fault"): self._fault,
            ("POST", "/control/latency"): self._latency,
            ("POST", "/control/drop"): self._drop,
            ("POST", "/control/clear-faults"): self._clear_faults,
            ("POST", "/control/expire-tokens"): self._expire_tokens,
            ("GET", "/control/counts"): self._counts,
            ("POST", "/control/reset-counts"): self._reset_counts,
            ("GET", "/control/requests"): self._requests,
            ("POST", "/control/clear-requests"): self._clear_requests,
            ("GET", "/control/tokens"): self._tokens,
        }

    def classify(self, req: Request):
        return None

    def handle(self, req: Request) -> Response:
        handler = self._routes.get((req.method, req.path.rstrip("/")))
        try:
            if handler is None:
                raise ControlError(404, f"no control endpoint {req.method} {req.path}")
            return handler(self._body(req))
        except ControlError as error:
            return json_response(error.status, {"error": error.message})

    @staticmethod
    def _body(req: Request) -> dict:
        if not req.body:
            return {}
        try:
            spec = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ControlError(400, "the body must be a JSON object") from None
        if not isinstance(spec, dict):
            raise ControlError(400, "the body must be a JSON object")
        return spec

    def _key_host(self, spec: dict):
        name = _field(spec, "host", str, required=True)
        host = self.emulator.key_host(name)
        if host is None:
            raise ControlError(404, f"no vault or managed HSM called {name!r}")
        return host

    def _any_host(self, spec: dict) -> str:
        name = _field(spec, "host", str, required=True)
        if name not in self.emulator.hosts:
            raise ControlError(404, f"no host called {name!r}; "
                                    f"hosts: {sorted(self.emulator.hosts)}")
        return name

    # --- keys -----------------------------------------------------------------------------

    @staticmethod
    def _bundle(host, version) -> Response:
        """The KeyBundle exactly as a GET on that host answers it (kid with its public URL)."""
        return json_response(200, version.bundle(host.public_url or host.url),
                             sort_keys=host.kind == MANAGED_HSM)

    def _create_key(self, spec: dict) -> Response:
        host = self._key_host(spec)
        try:
            version = host.keys.create(
                _field(spec, "name", str, required=True), _field(spec, "kty", str, required=True),
                _field(spec, "size", int, required=True), key_ops=_string_list(spec, "key_ops"),
                enabled=_field(spec, "enabled", bool, default=True),
                exp=_field(spec, "exp", int), nbf=_field(spec, "nbf", int))
        except KeyStoreError as error:
            raise ControlError(409 if "already exists" in str(error) else 400, str(error)) from None
        return self._bundle(host, version)

    def _add_version(self, spec: dict) -> Response:
        host = self._key_host(spec)
        try:
            version = host.keys.add_version(
                _field(spec, "name", str, required=True), key_ops=_string_list(spec, "key_ops"),
                enabled=_field(spec, "enabled", bool, default=True),
                exp=_field(spec, "exp", int), nbf=_field(spec, "nbf", int))
        except KeyStoreError as error:
            raise ControlError(404, str(error)) from None
        return self._bundle(host, version)

    def _set_attributes(self, spec: dict) -> Response:
        host = self._key_host(spec)
        changes = {}
        if "enabled" in spec:
            changes["enabled"] = _field(spec, "enabled", bool, required=True)
        for name in ("exp", "nbf"):
            if name in spec:   # null clears it
                changes[name] = _field(spec, name, int)
        if "key_ops" in spec:
            changes["key_ops"] = _string_list(spec, "key_ops") or []
        try:
            version = host.keys.update(_field(spec, "name", str, required=True),
                                       _field(spec, "version", str), **changes)
        except KeyStoreError as error:
            raise ControlError(404, str(error)) from None
        return self._bundle(host, version)

    # --- identities and access ------------------------------------------------------------

    def _register_principal(self, spec: dict) -> Response:
        hosts = [self._key_host({"host": h}) for h in (_string_list(spec, "hosts") or [])]
        try:
            principal = self.emulator.directory.register(spec)
        except DirectoryError as error:
            raise ControlError(400, str(error)) from None
        for host in hosts:
            host.access.grant(principal.client_id)
        return json_response(200, {"tenant": principal.tenant, "client_id": principal.client_id,
                                   "object_id": principal.object_id})

    def _grant(self, spec: dict) -> Response:
        return self._change_access(spec, grant=True)

    def _revoke(self, spec: dict) -> Response:
        return self._change_access(spec, grant=False)

    def _change_access(self, spec: dict, grant: bool) -> Response:
        host = self._key_host(spec)
        client_id = _field(spec, "client_id", str, required=True)
        operations = _string_list(spec, "operations", allowed=KEY_OPERATIONS)
        change = host.access.grant if grant else host.access.revoke
        return json_response(200, {"host": host.name, "client_id": client_id,
                                   "operations": change(client_id, operations)})

    def _set_host(self, spec: dict) -> Response:
        host = self._key_host(spec)
        tenant = _field(spec, "tenant", str)
        audience = _field(spec, "audience", str)
        public_url = _field(spec, "public_url", str)
        model = _field(spec, "permission_model", str)
        firewall_deny = _field(spec, "firewall_deny", bool)
        if public_url is not None and not _is_base_url(public_url):
            raise ControlError(400, "'public_url' must be an https://host[:port] URL")
        if model is not None and model not in (denials.RBAC, denials.ACCESS_POLICY):
            raise ControlError(400, "'permission_model' must be 'rbac' or 'access_policy'")
        if model == denials.ACCESS_POLICY and host.kind == MANAGED_HSM:
            raise ControlError(400, "a managed HSM has no access policies, only RBAC")
        if tenant:
            host.tenant = tenant.lower()
        if audience:
            host.audience = audience.rstrip("/")   # audiences have no trailing slash (§1.4)
        if public_url:
            host.public_url = public_url.rstrip("/")
        if model:
            host.permission_model = model
        if firewall_deny is not None:
            host.firewall_deny = firewall_deny
        return json_response(200, {"host": host.name, "tenant": host.tenant,
                                   "audience": host.audience, "public_url": host.public_url,
                                   "permission_model": host.permission_model,
                                   "firewall_deny": host.firewall_deny})

    def _expire_tokens(self, spec: dict) -> Response:
        expired = self.emulator.directory.expire_tokens(_field(spec, "client_id", str))
        return json_response(200, {"expired": expired})

    def _tokens(self, spec: dict) -> Response:
        """Every access token issued so far (tests check that no client logs one)."""
        return json_response(200, {"tokens": self.emulator.directory.issued_tokens()})

    # --- faults, counts and the response log ----------------------------------------------

    def _add_fault(self, spec: dict, fault: Fault) -> Response:
        self.emulator.faults.add(self._any_host(spec), fault)
        return json_response(200, {"host": spec["host"], "kind": fault.kind,
                                   "count": fault.remaining})

    def _fault(self, spec: dict) -> Response:
        status = _field(spec, "status", int, required=True)
        if status not in (403, 429) and not 500 <= status <= 599:
            raise ControlError(400, "'status' must be 403, 429 or 5xx")
        retry_after = _field(spec, "retry_after", int)
        if retry_after is not None and retry_after < 0:
            raise ControlError(400, "'retry_after' must be >= 0")
        forbidden = self._forbidden_kind(spec, status)
        return self._add_fault(spec, Fault(STATUS, _count(spec), _field(spec, "path_contains", str),
                                           status=status, retry_after=retry_after,
                                           forbidden=forbidden))

    def _forbidden_kind(self, spec: dict, status: int):
        """A 403 fault's `forbidden` (default: the host's permission model at the time)."""
        forbidden = _field(spec, "forbidden", str)
        if status != 403:
            if forbidden is not None:
                raise ControlError(400, "'forbidden' goes with status 403 only")
            return None
        host = self._key_host(spec)   # only vaults and HSMs refuse callers this way
        if forbidden is not None and forbidden not in denials.KINDS:
            raise ControlError(400, f"'forbidden' must be one of {list(denials.KINDS)}")
        if forbidden == denials.ACCESS_POLICY and host.kind == MANAGED_HSM:
            raise ControlError(400, "a managed HSM has no access policies, only RBAC")
        return forbidden

    def _latency(self, spec: dict) -> Response:
        ms = _field(spec, "ms", int, required=True)
        if ms < 0:
            raise ControlError(400, "'ms' must be >= 0")
        return self._add_fault(spec, Fault(LATENCY, _count(spec),
                                           _field(spec, "path_contains", str), ms=ms))

    def _drop(self, spec: dict) -> Response:
        return self._add_fault(spec, Fault(DROP, _count(spec), _field(spec, "path_contains", str)))

    def _clear_faults(self, spec: dict) -> Response:
        host = self._any_host(spec) if "host" in spec else None
        self.emulator.faults.clear(host)
        return json_response(200, {})

    def _counts(self, spec: dict) -> Response:
        return json_response(200, self.emulator.counters.snapshot(self.emulator.hosts))

    def _reset_counts(self, spec: dict) -> Response:
        self.emulator.counters.reset()
        return json_response(200, {})

    def _requests(self, spec: dict) -> Response:
        return json_response(200, {"requests": self.emulator.responses.snapshot()})

    def _clear_requests(self, spec: dict) -> Response:
        self.emulator.responses.clear()
        return json_response(200, {})
