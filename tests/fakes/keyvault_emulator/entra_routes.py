"""The Entra ID token endpoint (§9.1-§9.4) and the managed-identity IMDS endpoint (§9.5)."""
import base64
import binascii
import hmac
import time
import urllib.parse
import uuid

from . import assertions, discovery
from .state import Emulator, HostState, ENTRA
from .wire import (EntraError, ImdsError, Request, Response, entra_timestamp,
                   json_response)

_TOKEN_SUFFIX = ["oauth2", "v2.0", "token"]
_IMDS_PATH = ["metadata", "identity", "oauth2", "token"]
_OPENID_V2_SUFFIX = ["v2.0", ".well-known", "openid-configuration"]
_OPENID_V1_SUFFIX = [".well-known", "openid-configuration"]

# Injected fault bodies. AADSTS90055 is TenantThrottlingError, 90033 MSODS unavailable,
# 50000 a token issuance error (Entra's error-code list; not in the reference).
_ENTRA_FAULTS = {
    429: ("temporarily_unavailable", 90055,
          "TenantThrottlingError - There are too many incoming requests."),
    500: ("server_error", 50000,
          "There was an error issuing a token or an issue with our sign-in service."),
    503: ("temporarily_unavailable", 90033, "A transient error has occurred. Please try again."),
}
_IMDS_FAULTS = {429: ("too_many_requests", "Too many requests"),
                500: ("internal_error", "An unexpected error occurred"),
                503: ("service_unavailable", "IMDS is temporarily unavailable")}


def _segments(path: str) -> list:
    # AZURE_AUTHORITY_HOST may end with '/', so clients can send '//tenant//oauth2/...' (§9.3).
    return [s for s in path.split("/") if s]


class EntraApp:
    """Serves the Entra host (token endpoint and IMDS) or the plain-HTTP IMDS host.
    Stateless itself; safe for concurrent use."""

    def __init__(self, emulator: Emulator, host: HostState):
        self.emulator = emulator
        self.host = host
        self.directory = emulator.directory

    def classify(self, req: Request) -> str:
        segments = _segments(req.path)
        if [s.lower() for s in segments] == _IMDS_PATH:
            return "imds"
        if self.host.kind != ENTRA:
            return "other"
        if len(segments) == 4 and segments[1:] == _TOKEN_SUFFIX:
            return "token"
        lower = [s.lower() for s in segments]
        if lower[1:] in (_OPENID_V2_SUFFIX, _OPENID_V1_SUFFIX):
            return "openid_configuration"
        return "other"

    def handle(self, req: Request) -> Response:
        operation = self.classify(req)
        try:
            if operation == "token":
                return self._token(req)
            if operation == "imds":
                return self._imds(req)
            if operation == "openid_configuration":
                return self._openid_configuration(req)
            return json_response(404, {"error": "not_found",
                                       "error_description": f"No endpoint {req.method} {req.path}"},
                                 self._headers(req))
        except EntraError as error:
            return self._entra_error(req, error)
        except ImdsError as error:
            return self._imds_error(req, error)

    def fault_response(self, req: Request, status: int, retry_after, forbidden=None) -> Response:
        extra = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if self.classify(req) == "imds":
            error, text = _IMDS_FAULTS.get(status, ("service_unavailable", "Injected fault"))
            return self._imds_error(req, ImdsError(status, error, text), extra)
        error, code, text = _ENTRA_FAULTS.get(status, _ENTRA_FAULTS[503])
        return self._entra_error(req, EntraError(status, error, code, text), extra)

    # --- token endpoint -------------------------------------------------------------------

    def _token(self, req: Request) -> Response:
        if req.method != "POST":
            raise EntraError(400, "invalid_request", 900561,
                             "The endpoint only accepts POST requests. "
                             f"Received a {req.method} request.")
        tenant = _segments(req.path)[0]
        if not self.directory.is_known_tenant(tenant):   # §9.4
            raise _tenant_not_found(tenant)
        form = _parse_form(req.body)
        grant_type = _required(form, "grant_type")
        if grant_type != "client_credentials":
            raise EntraError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant_type}'.")
        basic_id, basic_secret = _basic_credentials(req)   # HTTP Basic is accepted too (§9.1)
        client_id = form.get("client_id") or basic_id
        if not client_id:
            _required(form, "client_id")
        principal = self.directory.principal(client_id)
        if principal is None or principal.tenant != tenant.lower():   # §9.4
            raise EntraError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the "
                             f"directory '{tenant}'. This can happen if the application has not "
                             "been installed by the administrator of the tenant or consented to "
                             "by any user in the tenant. You may have sent your authentication "
                             "request to the wrong tenant.")
        self._authenticate_client(req, tenant, principal, form, basic_secret)
        resource = self._resource_from_scope(form.get("scope"))
        token, _ = self.directory.issue_token(principal, resource)
        lifetime = principal.token_lifetime
        # JSON numbers here, strings in IMDS (§9.1 vs §9.5).
        return json_response(200, {"token_type": "Bearer", "expires_in": lifetime,
                                   "ext_expires_in": lifetime, "access_token": token},
                             self._headers(req))

    def _authenticate_client(self, req, tenant, principal, form, basic_secret) -> None:
        secret = form.get("client_secret", basic_secret)
        assertion = form.get("client_assertion")
        if secret is not None:
            expected = principal.client_secret
            if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
                raise EntraError(401, "invalid_client", 7000215,   # §9.4
                                 "Invalid client secret provided. Ensure the secret being sent "
                                 "in the request is the client secret value, not the client "
                                 f"secret ID, for a secret added to app '{principal.client_id}'.")
            return
        if assertion is not None:
            if form.get("client_assertion_type") != assertions.JWT_BEARER:
                raise EntraError(400, "invalid_request", 90014, "The required field "
                                 "'client_assertion_type' is missing or invalid.")
            assertions.verify(assertion, principal, self._token_urls(req, tenant), time.time())
            return
        raise EntraError(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: "
                         "'client_assertion' or 'client_secret'.")

    def _base(self, req: Request) -> str:
        """This listener as the client reached it: what its documents name."""
        return f"https://{req.host_header}" if req.host_header else self.host.url

    def _openid_configuration(self, req: Request) -> Response:
        segments = _segments(req.path)
        tenant = segments[0]
        if tenant.lower() not in ("common", "organizations", "consumers") and \
                not self.directory.is_known_tenant(tenant):
            raise _tenant_not_found(tenant)
        document = discovery.openid_configuration(self._base(req), tenant,
                                                  v2=segments[1].lower() == "v2.0")
        return json_response(200, document, self._headers(req))

    def _token_urls(self, req: Request, tenant: str) -> set:
        """The assertion's aud must be the token URL the client called (§9.2)."""
        bases = {f"https://{req.host_header}", self.host.url}
        return {f"{b}/{tenant}/oauth2/v2.0/token".lower() for b in bases}

    def _resource_from_scope(self, scope) -> str:
        """One resource's '.../.default' (§9.1); anything else is invalid_scope 70011."""
        if not scope:
            raise EntraError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'scope'.")
        items = scope.split()
        resource = items[0][:-len("/.default")] if items[0].endswith("/.default") else None
        if len(items) != 1 or resource is None or \
                resource.rstrip("/") not in self.emulator.known_resources():
            raise EntraError(400, "invalid_scope", 70011,
                             "The provided value for the input parameter 'scope' is not valid. "
                             f"The scope {scope} is not valid.")
        return resource

    # --- IMDS -----------------------------------------------------------------------------

    def _imds(self, req: Request) -> Response:
        # SSRF guard first: the header is required, with the value "true" (§9.5).
        if req.headers.get("Metadata") != "true":
            raise ImdsError(400, "bad_request_102", "Required metadata header not specified")
        if req.method != "GET":
            raise ImdsError(400, "invalid_request", f"Method {req.method} is not supported")
        if not req.query.get("api-version"):
            raise ImdsError(400, "invalid_request",
                            "Required query variable 'api-version' is missing")
        resource = req.query.get("resource")
        if not resource:
            raise ImdsError(400, "invalid_request",
                            "Required audience variable 'resource' is missing")
        principal = self.directory.managed_identity(req.query.get("client_id"),
                                                    req.query.get("object_id"))
        if principal is None:
            raise ImdsError(400, "invalid_request", "Identity not found")
        # The resource is kept as sent: a trailing slash yields a token the vault rejects
        # with AKV10022 (§1.4).
        if resource.rstrip("/") not in self.emulator.known_resources():
            raise ImdsError(400, "invalid_resource",
                            f"AADSTS50001: The application named {resource} was not found in the "
                            f"tenant named {principal.tenant}.")
        token, granted = self.directory.issue_token(principal, resource)
        now = int(time.time())
        # expires_in / expires_on / not_before are JSON strings here (§9.5).
        return json_response(200, {
            "access_token": token, "refresh_token": "",
            "expires_in": str(principal.token_lifetime), "expires_on": str(int(granted.expires_at)),
            "not_before": str(now), "resource": resource, "token_type": "Bearer"},
            self._headers(req))

    # --- responses ------------------------------------------------------------------------

    def _headers(self, req: Request) -> list:
        return [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
                ("x-ms-request-id", req.request_id)]

    def _entra_error(self, req: Request, error: EntraError, extra=()) -> Response:
        """The §9.4 shape; the correlation id echoes client-request-id when sent."""
        timestamp = entra_timestamp(time.time())
        trace_id = req.request_id
        correlation_id = req.headers.get("client-request-id") or str(uuid.uuid4())
        description = (f"AADSTS{error.aadsts}: {error.message}\r\nTrace ID: {trace_id}\r\n"
                       f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}")
        return json_response(error.status, {
            "error": error.error, "error_description": description,
            "error_codes": [error.aadsts], "timestamp": timestamp, "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={error.aadsts}"},
            self._headers(req) + list(extra))

    def _imds_error(self, req: Request, error: ImdsError, extra=()) -> Response:
        return json_response(error.status, {"error": error.error,
                                            "error_description": error.description},
                             self._headers(req) + list(extra))


def _tenant_not_found(tenant: str) -> EntraError:
    return EntraError(400, "invalid_tenant", 90002,   # §9.4
                      f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                      "tenant ID and are signing into the correct cloud. Check with your "
                      "subscription administrator, this may happen if there are no active "
                      "subscriptions for the tenant.")


def _parse_form(body: bytes) -> dict:
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                       strict_parsing=False)
    except UnicodeDecodeError:
        raise EntraError(400, "invalid_request", 900144, "The request body is not valid.") from None
    return dict(pairs)


def _required(form: dict, name: str) -> str:
    value = form.get(name)
    if not value:
        raise EntraError(400, "invalid_request", 900144,
                         f"The request body must contain the following parameter: '{name}'.")
    return value


def _basic_credentials(req: Request):
    """(client_id, client_secret) from Authorization: Basic (RFC 6749 §2.3.1), or Nones."""
    scheme, _, encoded = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        client_id, _, secret = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
