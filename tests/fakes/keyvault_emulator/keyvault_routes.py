"""A Key Vault or Managed HSM host: token checks, access control and the keys API."""
import json
import os
import time
import urllib.parse
from dataclasses import dataclass

from . import crypto_ops, denials
from .keys import MANAGED_HSM
from .state import Emulator, HostState
from .wire import KeyVaultError, Request, Response, b64url_encode, json_response, JSON_CONTENT_TYPE

# The api-versions the service accepts (§12: required, no default): every published
# stable version and the previews SDKs were released against. 2025-07-01 is what current
# SDKs send by default (@azure/keyvault-keys 4.10). Bodies are the same for all of them.
API_VERSIONS = ("2015-06-01", "2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6",
                "2025-07-01", "7.0-preview", "7.1-preview", "7.2-preview", "7.3-preview",
                "7.4-preview.1", "7.5-preview.1", "7.6-preview.1", "7.6-preview.2")
LATEST_API_VERSION = "2025-07-01"

# Injected fault bodies (§7.2 "Throttled"; the 5xx codes are not in the reference).
_FAULT_CODES = {429: ("Throttled", "Request was not processed because too many requests were "
                                   "received. Reason: VaultRequestTypeLimitReached"),
                500: ("InternalServerError", "An unexpected error occurred."),
                503: ("ServiceUnavailable", "The service is temporarily unavailable.")}

_NOT_FOUND_HINT = ("was not found in this key vault. If you recently deleted this key you may "
                   "be able to recover it using the correct recovery command. For help "
                   "resolving this issue, please see "
                   "https://go.microsoft.com/fwlink/?linkid=2125182")


@dataclass(frozen=True)
class Route:
    op: str                 # one of state.KEY_OPERATIONS
    name: str = None
    version: str = None     # None: the latest version


def parse_route(method: str, path: str):
    """Maps a request to a Route, or None. Empty segments are dropped: `/keys/{name}/`
    is the latest version (§3.1) and `//rng` still works (§6)."""
    segments = [s for s in path.split("/") if s]
    if method == "POST" and [s.lower() for s in segments] == ["rng"]:
        return Route("rng")
    if len(segments) < 2 or segments[0].lower() != "keys":
        return None
    name, rest = segments[1], segments[2:]
    if method == "GET" and len(rest) <= 1:
        if rest and rest[0].lower() == "versions":
            return Route("list_versions", name)
        return Route("get_key", name, rest[0] if rest else None)
    if method == "POST" and rest:
        last = rest[-1].lower()   # the operation segment is case-insensitive (§4.1)
        if len(rest) == 1 and last == "rotate":
            return Route("rotate", name)
        if len(rest) <= 2 and last in crypto_ops.CRYPTO_OPS:
            # The version-less form works and answers with the latest version (§4.1, R7).
            return Route(last, name, rest[0] if len(rest) == 2 else None)
    return None


class KeyVaultApp:
    """Serves one vault or HSM host. Stateless itself; safe for concurrent use."""

    def __init__(self, emulator: Emulator, host: HostState):
        self.emulator = emulator
        self.host = host
        self.is_hsm = host.kind == MANAGED_HSM

    def classify(self, req: Request) -> str:
        """The operation name this request is counted under."""
        route = parse_route(req.method, req.path)
        return route.op if route else "other"

    def handle(self, req: Request) -> Response:
        try:
            response = self._handle(req)
        except KeyVaultError as error:
            response = self._error(req, error)
        return self._recorded(req, response)

    def fault_response(self, req: Request, status: int, retry_after, forbidden=None) -> Response:
        if status == 403:
            # An injected denial, before authentication: it names whoever the token names.
            route = parse_route(req.method, req.path)
            error = self._forbidden(forbidden or self.host.permission_model, req,
                                    self._caller(self._token_if_any(req)),
                                    route.op if route else "other", route.name if route else None)
            return self._recorded(req, self._error(req, error))
        code, message = _FAULT_CODES.get(status, ("ServiceUnavailable", "Injected fault."))
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return self._recorded(
            req, self._error(req, KeyVaultError(status, code, message, headers=headers)))

    def _recorded(self, req: Request, response: Response) -> Response:
        """Logs the response's x-ms-request-id (GET /control/requests) before it is sent, so
        a client that has the response can always find it there."""
        self.emulator.responses.add(self.host.name, req.method, req.path, response.status,
                                    self.classify(req), req.request_id)
        return response

    def _handle(self, req: Request) -> Response:
        # The challenge comes before anything else is validated (§2.1).
        token = self._authenticate(req)
        self._check_api_version(req)
        route = parse_route(req.method, req.path)
        if self.host.firewall_deny:   # the denial names the caller: after authentication
            raise self._forbidden(denials.FIREWALL, req, self._caller(token),
                                  route.op if route else "other", route.name if route else None)
        if route is None or (route.op == "rng" and not self.is_hsm):
            # Not in the reference (rng on a vault is [UNVERIFIED], §6): see README.
            raise KeyVaultError(404, "NotFound", f"No operation {req.method} {req.path}.")
        if not self.host.access.allows(token.client_id, route.op):
            raise self._forbidden(self.host.permission_model, req, self._caller(token),
                                  route.op, route.name)
        handlers = {"get_key": self._get_key, "list_versions": self._list_versions,
                    "rotate": self._rotate, "rng": self._rng}
        return handlers.get(route.op, self._crypto)(req, route)

    # --- authentication and authorization -------------------------------------------------

    def _challenge(self):
        # Vaults name login.windows.net, MHSM login.microsoftonline.com (§2.1); SDKs take
        # only the tenant from it (§2.2), so the real hosts are kept.
        authority = ("https://login.microsoftonline.com" if self.is_hsm
                     else "https://login.windows.net")
        return ("WWW-Authenticate", f'Bearer authorization="{authority}/{self.host.tenant}", '
                                    f'resource="{self.host.audience}"')

    def _unauthorized(self, message: str) -> KeyVaultError:
        return KeyVaultError(401, "Unauthorized", message, headers=[self._challenge()])

    def _authenticate(self, req: Request):
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            error = self._unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
            error.empty_body = self.is_hsm   # MHSM's challenge has an empty body (§2.1)
            raise error
        granted = self.emulator.directory.lookup_token(token.strip())
        if granted is None:
            # Outside the reference's table: the text of a third-party capture.
            raise self._unauthorized(
                "[AggregatedAuthenticationFailure] Error validating token: 'S2S17001'.")
        if granted.expires_at <= time.time():
            raise self._unauthorized("[TokenExpired] Error validating token: 'S2S12086'.")   # §2.3
        if granted.audience != self.host.audience:
            raise self._unauthorized(f"AKV10022: Invalid audience. Expected {self.host.audience}, "
                                     f"found: {granted.audience}.")   # §1.4, §2.3
        if granted.tenant != self.host.tenant.lower():
            raise self._unauthorized(f"AKV10032: Invalid issuer. Expected one of "
                                     f"https://sts.windows.net/{self.host.tenant}/, found "
                                     f"https://sts.windows.net/{granted.tenant}/.")   # §2.3
        return granted

    def _token_if_any(self, req: Request):
        """The AccessToken the request's bearer token stands for, or None."""
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.emulator.directory.lookup_token(token.strip())

    def _caller(self, token) -> denials.Caller:
        if token is None:
            return denials.Caller()
        principal = self.emulator.directory.principal(token.client_id)
        return denials.Caller(token.client_id,
                              principal.object_id if principal else token.client_id, token.tenant)

    def _check_api_version(self, req: Request) -> None:
        version = req.query.get("api-version")
        if version is None:   # required, no default (§12)
            raise KeyVaultError(400, "BadParameter",
                                "The 'api-version' query parameter is required.")
        if version not in API_VERSIONS:   # I-py-28595's wording (§7.2)
            raise KeyVaultError(400, "BadParameter",
                                f"The specified version ({version}) is not recognized. Consider "
                                f"using the latest supported version ({LATEST_API_VERSION}).")

    def _forbidden(self, kind: str, req: Request, caller: denials.Caller, operation: str,
                   key_name) -> KeyVaultError:
        return denials.forbidden(kind, self.host, caller, operation, key_name,
                                 self.emulator.region, req.client_address or "127.0.0.1")

    # --- operations -----------------------------------------------------------------------

    def _find(self, route: Route):
        key = self.host.keys.get(route.name, route.version)
        if key is None:   # the 2021+ message (§7.2)
            ident = f"{route.name}/{route.version}" if route.version else route.name
            raise KeyVaultError(404, "KeyNotFound",
                                f"A key with (name/id) {ident} {_NOT_FOUND_HINT}")
        return key

    def _get_key(self, req: Request, route: Route) -> Response:
        # A disabled key still answers 200 with enabled false (§3.1).
        return self._ok(req, self._find(route).bundle(self._base_url(req)))

    def _list_versions(self, req: Request, route: Route) -> Response:
        self._find(route)
        max_results = _int_param(req.query.get("maxresults", "25"), 1, 25, "maxresults")
        skip = _int_param(req.query.get("$skiptoken", "0"), 0, 1 << 30, "$skiptoken")
        # Listed in ascending version-string order, not creation order (§3.6).
        versions = sorted(self.host.keys.versions(route.name), key=lambda v: v.version)
        base = self._base_url(req)
        page = versions[skip:skip + max_results]
        next_link = None
        if skip + max_results < len(versions):
            # Absolute, with the port spelled out and the caller's api-version (§3.6, S5).
            next_link = (f"{_with_port(base)}/keys/{page[0].name}/versions?api-version="
                         f"{req.query['api-version']}&$skiptoken={skip + max_results}"
                         f"&maxresults={max_results}")
        return self._ok(req, {"value": [v.item(base) for v in page], "nextLink": next_link})

    def _rotate(self, req: Request, route: Route) -> Response:
        self._find(route)
        return self._ok(req, self.host.keys.add_version(route.name).bundle(self._base_url(req)))

    def _crypto(self, req: Request, route: Route) -> Response:
        key = self._find(route)
        params = crypto_ops.parse_parameters(req.body)
        crypto_ops.check_usable(key, route.op, time.time())
        result = crypto_ops.run(route.op, key, params, self.host.kind, self._base_url(req))
        return self._ok(req, result)

    def _rng(self, req: Request, route: Route) -> Response:
        try:
            count = json.loads(req.body.decode("utf-8")).get("count")
        except (UnicodeDecodeError, ValueError, AttributeError):
            count = None
        # count: int32, minimum 1, maximum 128 (§6).
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 128:
            raise KeyVaultError(400, "BadParameter", "Property 'count' must be between 1 and 128.")
        return self._ok(req, {"value": b64url_encode(os.urandom(count))})

    # --- responses ------------------------------------------------------------------------

    def _base_url(self, req: Request) -> str:
        # The service names itself in kid by its own URL (§1.1), whatever Host the client
        # sent: a vault reached through another name still says https://{vault}.vault...
        return self.host.public_url or self.host.url

    def _headers(self, req: Request) -> list:
        headers = [("Cache-Control", "no-cache"), ("x-ms-request-id", req.request_id),
                   ("x-ms-keyvault-region", self.emulator.region)]
        if self.is_hsm:   # §3.4: no service-version header, no client-request-id echo
            return headers + [("Content-Security-Policy", "default-src 'self'"),
                              ("X-Frame-Options", "SAMEORIGIN"), ("x-ms-server-latency", "0")]
        headers += [("Pragma", "no-cache"), ("Expires", "-1"),
                    ("x-ms-keyvault-service-version", "1.9.1011.1")]
        client_request_id = req.headers.get("x-ms-client-request-id")
        if client_request_id:   # vaults echo it (§12)
            headers.append(("x-ms-client-request-id", client_request_id))
        return headers

    def _ok(self, req: Request, body: dict) -> Response:
        return json_response(200, body, self._headers(req), sort_keys=self.is_hsm)

    def _error(self, req: Request, error: KeyVaultError) -> Response:
        headers = self._headers(req) + error.headers
        if error.empty_body:
            return Response(error.status, b"", [("Content-Type", JSON_CONTENT_TYPE), *headers])
        body = error.body(activity_id=req.request_id if self.is_hsm else None)
        return json_response(error.status, body, headers, sort_keys=self.is_hsm)


def _with_port(url: str) -> str:
    """`url` with an explicit :443 when it has no port (the spec's nextLink example, S5)."""
    parts = urllib.parse.urlsplit(url)
    return url if parts.port else f"{url}:443"


def _int_param(text: str, low: int, high: int, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise KeyVaultError(400, "BadParameter", f"Invalid value for '{name}'.")
    return value
