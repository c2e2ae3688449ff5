"""Entra ID's OpenID Connect discovery document, which identity libraries (MSAL) fetch for
the authority before asking for a token (their instance discovery goes to the public
cloud's fixed host, so clients of an emulator turn it off: disableInstanceDiscovery).

Not in the reference: the shape follows Microsoft identity platform's published document
(`https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration`).
Every endpoint in it is on the emulator's Entra listener, as the client reached it, so a
client can follow them.
"""

# Tenant names that are not a tenant: the discovery document then carries the {tenantid}
# placeholder in its issuer, as Entra's does.
_MULTI_TENANT = ("common", "organizations", "consumers")


def openid_configuration(base: str, tenant: str, v2: bool) -> dict:
    """The discovery document of `tenant` on the authority `base` (https://host[:port]).
    v2: /{tenant}/v2.0/.well-known/openid-configuration; else the v1 document."""
    issuer_tenant = "{tenantid}" if tenant.lower() in _MULTI_TENANT else tenant
    authority = f"{base}/{tenant}"
    oauth = f"{authority}/oauth2/v2.0" if v2 else f"{authority}/oauth2"
    document = {
        "token_endpoint": f"{oauth}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                  "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant}/discovery/{'v2.0/' if v2 else ''}keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": (f"{base}/{issuer_tenant}/v2.0" if v2
                   else f"https://sts.windows.net/{issuer_tenant}/"),
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{oauth}/authorize",
        "device_authorization_endpoint": f"{oauth}/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{oauth}/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                             "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                             "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"{authority}/kerberos",
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return document

