"""The 403s a vault or Managed HSM gives a caller it refuses (§7.2): RBAC, access policy
and firewall on vaults; AccessDenied on Managed HSM.

Each names the caller as the service does (appid, oid, issuer), so a denial can only be
built once the token is known; an injected 403 before authentication names whoever the
token names, or no one.
"""
from dataclasses import dataclass

from .keys import MANAGED_HSM
from .wire import KeyVaultError

# What a denial is about: the host's permission model, or its firewall.
RBAC = "rbac"
ACCESS_POLICY = "access_policy"
FIREWALL = "firewall"
KINDS = (RBAC, ACCESS_POLICY, FIREWALL)

_NO_ONE = "00000000-0000-0000-0000-000000000000"

# RBAC data actions named in 403 messages (§3.1, §4.1, §5, §6, §7.2).
_VAULT_ACTIONS = {
    "get_key": "Microsoft.KeyVault/vaults/keys/read",
    "list_versions": "Microsoft.KeyVault/vaults/keys/read",
    "wrapkey": "Microsoft.KeyVault/vaults/keys/wrap/action",
    "unwrapkey": "Microsoft.KeyVault/vaults/keys/unwrap/action",
    "encrypt": "Microsoft.KeyVault/vaults/keys/encrypt/action",
    "decrypt": "Microsoft.KeyVault/vaults/keys/decrypt/action",
    "rotate": "Microsoft.KeyVault/vaults/keys/rotate/action",
    "other": "Microsoft.KeyVault/vaults/keys/read",
}
_HSM_ACTIONS = {
    "get_key": "Microsoft.KeyVault/managedHsm/keys/read/action",
    "list_versions": "Microsoft.KeyVault/managedHsm/keys/read/action",
    "wrapkey": "Microsoft.KeyVault/managedHsm/keys/wrap/action",
    "unwrapkey": "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
    "encrypt": "Microsoft.KeyVault/managedHsm/keys/encrypt/action",
    "decrypt": "Microsoft.KeyVault/managedHsm/keys/decrypt/action",
    "rotate": "Microsoft.KeyVault/managedHsm/keys/rotate/action",
    "rng": "Microsoft.KeyVault/managedHsm/rng/action",
    "other": "Microsoft.KeyVault/managedHsm/keys/read/action",
}
# Operations with no entry (rng on a vault: an injected 403 on any path) name "other".
# Access-policy key permissions (§3.1 keys/get, §3.6 keys/list, §4.1 wrapKey/unwrapKey).
_POLICY_PERMISSIONS = {"get_key": "get", "list_versions": "list", "wrapkey": "wrapKey",
                       "unwrapkey": "unwrapKey", "encrypt": "encrypt", "decrypt": "decrypt",
                       "rotate": "rotate", "other": "get"}


@dataclass(frozen=True)
class Caller:
    """Who a denial names: the token's client, its principal's object id and tenant."""
    client_id: str = _NO_ONE
    object_id: str = _NO_ONE
    tenant: str = _NO_ONE

    def describe(self) -> str:
        return f"appid={self.client_id};oid={self.object_id};iss=https://sts.windows.net/{self.tenant}/"


def forbidden(kind: str, host, caller: Caller, operation: str, key_name: str, region: str,
              client_address: str) -> KeyVaultError:
    """The 403 `host` answers `caller` for `operation` on `key_name` (None: not a key)."""
    if kind == FIREWALL:
        return _firewall(host, caller, region, client_address)
    if host.kind == MANAGED_HSM:   # Managed HSM is RBAC only (I-azcli-32719)
        scope = f"/keys/{key_name}" if key_name else "/"
        action = _HSM_ACTIONS.get(operation, _HSM_ACTIONS["other"])
        return KeyVaultError(403, "AccessDenied", f"Not authorized to access {action} on {scope}")
    if kind == ACCESS_POLICY:
        return _access_policy(host, caller, operation, region)
    return _rbac(host, caller, operation, key_name, region)


def _rbac(host, caller: Caller, operation: str, key_name: str, region: str) -> KeyVaultError:
    scope = f"/keys/{key_name}" if key_name else ""
    message = (  # ForbiddenByRbac text, I-tfaks-2 (§7.2)
        "Caller is not authorized to perform action on resource.\r\n"
        "If role assignments, deny assignments or role definitions were changed recently, "
        "please observe propagation time.\r\n"
        f"Caller: {caller.describe()}\r\n"
        f"Action: '{_VAULT_ACTIONS.get(operation, _VAULT_ACTIONS['other'])}'\r\n"
        "Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
        f"keybroker-emulator/providers/microsoft.keyvault/vaults/{host.name}{scope}'\r\n"
        "Assignment: (not found)\r\nDenyAssignmentId: null\r\n"
        "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
        f"Vault: {host.name};location={region}\r\n")
    return KeyVaultError(403, "Forbidden", message, inner="ForbiddenByRbac")


def _access_policy(host, caller: Caller, operation: str, region: str) -> KeyVaultError:
    message = (  # ForbiddenByPolicy text, I-aspnet-23035 (§7.2)
        f"The user, group or application '{caller.describe()}' does not have keys "
        f"{_POLICY_PERMISSIONS.get(operation, 'get')} permission on key vault '{host.name};"
        f"location={region}'. For help resolving this issue, please see "
        "https://go.microsoft.com/fwlink/?linkid=2125287")
    return KeyVaultError(403, "Forbidden", message, inner="ForbiddenByPolicy")


def _firewall(host, caller: Caller, region: str, client_address: str) -> KeyVaultError:
    # D3's sentence (§7.2); the innererror ForbiddenByFirewall is the convention the
    # reference marks [UNVERIFIED], and Managed HSM is assumed to answer the same way.
    message = (f"Client address ({client_address}) is not authorized and caller is not a "
               f"trusted service.\r\nClient address: {client_address}\r\n"
               f"Caller: {caller.describe()}\r\nVault: {host.name};location={region}\r\n")
    return KeyVaultError(403, "Forbidden", message, inner="ForbiddenByFirewall")
