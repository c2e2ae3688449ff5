"""The emulator's shared state: hosts, their keys and access lists, directory, faults,
request counts and the log of vault/HSM responses."""
import re
import threading
from dataclasses import dataclass

from .denials import RBAC
from .faults import Counters, FaultPlan, ResponseLog
from .identity import Directory
from .keys import MANAGED_HSM, VAULT, KeyStore

ENTRA = "entra"
IMDS = "imds"
RESERVED_NAMES = (ENTRA, IMDS, "control")

# How a vault/HSM names itself in kid and nextLink (cli --public-names).
AZURE_NAMES = "azure"         # https://{name}.vault.{suffix}, as Key Vault does (§1.1)
LISTENER_NAMES = "listener"   # the listener's own URL, for clients that follow kid/nextLink

# Operations of a vault/HSM host: request-count names and grantable permissions.
KEY_OPERATIONS = ("get_key", "list_versions", "wrapkey", "unwrapkey", "encrypt", "decrypt",
                  "rotate", "rng")

# vault-name / hsm-name: 3-24 of 0-9 a-z A-Z -, no "--" (§1.1).
_HOST_NAME = re.compile(r"(?!.*--)[0-9a-zA-Z-]{3,24}")


class AccessList:
    """Which client ids may perform which operations on one host. Safe for concurrent use."""

    def __init__(self):
        self._lock = threading.Lock()
        self._allowed = {}   # guarded by _lock: lower-case client_id -> set of operations

    def grant(self, client_id: str, operations=None) -> list:
        """Allows `operations` (all when None); returns the client's operations after."""
        with self._lock:
            allowed = self._allowed.setdefault(client_id.lower(), set())
            allowed.update(operations or KEY_OPERATIONS)
            return sorted(allowed)

    def revoke(self, client_id: str, operations=None) -> list:
        """Denies `operations` (all when None); returns the client's operations after."""
        with self._lock:
            allowed = self._allowed.get(client_id.lower(), set())
            if operations is None:
                allowed.clear()
            else:
                allowed.difference_update(operations)
            return sorted(allowed)

    def allows(self, client_id: str, operation: str) -> bool:
        with self._lock:
            return operation in self._allowed.get(client_id.lower(), ())


@dataclass
class HostState:
    """One listener. The plain fields are replaced whole by the control API (set-host), so a
    request reads each one once and sees either the old or the new value."""
    name: str
    kind: str                 # vault | managed_hsm | entra | imds
    tenant: str = None        # vault/HSM: the tenant whose tokens it accepts (§2.3 AKV10032)
    audience: str = None      # vault/HSM: the expected token audience (§1.4)
    keys: KeyStore = None
    access: AccessList = None
    url: str = ""             # set once the listener is bound
    public_url: str = ""      # vault/HSM: how it names itself in kid and nextLink (§1.1, §3.6)
    permission_model: str = RBAC   # vault: rbac | access_policy, the shape of denials (§7.2)
    firewall_deny: bool = False    # vault/HSM: the firewall refuses every client


class Emulator:
    """Everything the listeners share. Hosts are added before serving starts."""

    def __init__(self, default_tenant: str, audience_host_suffix: str, region: str = "westus"):
        self.audience_host_suffix = audience_host_suffix
        self.region = region
        self.hosts = {}   # name -> HostState; fixed once serving starts
        self.directory = Directory(default_tenant)
        self.counters = Counters()
        self.faults = FaultPlan()
        self.responses = ResponseLog()   # x-ms-request-id of every vault/HSM response

    def default_audience(self, kind: str) -> str:
        """https://vault.{suffix} or https://managedhsm.{suffix}: no trailing slash (§1.4)."""
        prefix = "vault" if kind == VAULT else "managedhsm"
        return f"https://{prefix}.{self.audience_host_suffix}"

    def azure_url(self, host: HostState) -> str:
        """https://{name}.vault.{suffix} or https://{name}.managedhsm.{suffix}: the name Key
        Vault gives itself (§1.1). Each cloud's vault DNS suffix is its audience's host
        (§1.2, §1.4), so --audience-host-suffix serves for both."""
        prefix = "vault" if host.kind == VAULT else "managedhsm"
        return f"https://{host.name.lower()}.{prefix}.{self.audience_host_suffix}"

    def add_host(self, name: str, kind: str) -> HostState:
        """Adds a listener's state; raises ValueError on a bad or duplicate name."""
        if name in self.hosts:
            raise ValueError(f"duplicate host name {name!r}")
        if kind in (VAULT, MANAGED_HSM):
            if name in RESERVED_NAMES or not _HOST_NAME.fullmatch(name):
                raise ValueError(f"invalid {kind} name {name!r}: 3-24 of 0-9 a-z A-Z -, "
                                 "no '--' (§1.1), not entra/imds/control")
            host = HostState(name, kind, tenant=self.directory.default_tenant,
                             audience=self.default_audience(kind), keys=KeyStore(kind),
                             access=AccessList())
        else:
            host = HostState(name, kind)
        self.hosts[name] = host
        return host

    def key_host(self, name: str):
        """The vault/HSM host called `name`, or None."""
        host = self.hosts.get(name)
        return host if host is not None and host.kind in (VAULT, MANAGED_HSM) else None

    def known_resources(self) -> set:
        """Resources Entra issues tokens for: both defaults plus every host's audience."""
        resources = {self.default_audience(VAULT), self.default_audience(MANAGED_HSM)}
        resources.update(h.audience for h in self.hosts.values() if h.audience)
        return resources
