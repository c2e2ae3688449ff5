"""Azure Key Vault / Managed HSM / Entra ID emulator for keybroker's tests.

Written from /work/shared/reference/keyvault-protocol.md (cited as §n in comments):
HTTPS with a CA it generates, the token endpoint, its OpenID discovery document and IMDS
with their real error codes, the keys API (get, versions, rotate, wrapkey/unwrapkey,
encrypt/decrypt, rng) with real response and error shapes, and a control API for tests.
See ../README.md.

Modules:
  cli             command line, listeners, ready line, SIGTERM
  server          one threaded HTTP/1.1 (TLS) listener: counts, faults, dispatch
  keyvault_routes a vault / HSM host: token checks, api-versions, access, keys API
  denials         the 403s of RBAC, access policies, the firewall, Managed HSM
  crypto_ops      wrapkey/unwrapkey/encrypt/decrypt on one key version
  keys            key versions, attributes, the KeyBundle shape
  entra_routes    token endpoint, IMDS, the discovery document's route
  discovery       the OpenID Connect discovery document
  assertions      certificate JWT and federated client assertions
  identity        tenants, principals, issued tokens
  control_routes  the control API
  state           hosts, access lists, the shared Emulator object
  faults          request counts, injected faults, the log of x-ms-request-ids sent
  pki             CA and server certificates
  wire            base64url, JSON, response and error types
"""
