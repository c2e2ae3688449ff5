"""The soak's fault schedule: episodes that each put one fault in force for a while,
then take it away and leave the brokers time to recover, in a fixed cycle.

Each episode records when its fault was in force (monotonic seconds), and which typed
reasons it can explain: an error whose reason no episode in force (or within the
brokers' cache TTL after one) explains is misattributed (checks.py)."""
import json
import subprocess
import threading
import time

from emulator import CLIENT_ID, HSM, VAULT

AZURE_HOSTS = (VAULT, HSM)


class Episode:
    """One fault. `begin`/`tick`/`end` act; `explains` names the reasons it can cause."""
    name = ""
    what = ""
    explains = frozenset()

    def begin(self, soak):
        pass

    def tick(self, soak):
        pass

    def end(self, soak):
        pass


class AzureFault(Episode):
    """A fault on the vault and the HSM. Faults with a count stay until consumed, so
    ending the episode clears what is left of them."""

    def end(self, soak):
        for host in AZURE_HOSTS:
            soak.emulator.control("clear-faults", {"host": host})


class Throttle(AzureFault):
    name = "throttle_429"
    what = "bursts of 25 HTTP 429 with Retry-After: 1 on the vault and the HSM, every 0.5 s"
    explains = frozenset({"KMS_THROTTLED"})

    def tick(self, soak):
        for host in AZURE_HOSTS:
            soak.emulator.control("fault", {"host": host, "status": 429, "retry_after": 1,
                                            "count": 25})


class ServerErrors(AzureFault):
    name = "server_errors_5xx"
    what = "bursts of 20 HTTP 500 and 20 HTTP 503 on the vault and the HSM, every 0.5 s"
    explains = frozenset({"KMS_UNAVAILABLE"})

    def tick(self, soak):
        for host in AZURE_HOSTS:
            for status in (500, 503):
                soak.emulator.control("fault", {"host": host, "status": status, "count": 20})


class Latency(AzureFault):
    name = "latency_beyond_deadline"
    what = "every vault and HSM request delayed by the callers' deadline plus 1 s"
    explains = frozenset({"KMS_UNAVAILABLE", "SERVER_BUSY"})

    def begin(self, soak):
        ms = int((soak.deadline + 1) * 1000)
        for host in AZURE_HOSTS:
            soak.emulator.control("latency", {"host": host, "ms": ms, "count": -1})


class SlowVault(AzureFault):
    name = "slow_vault"
    what = ("every vault and HSM request delayed by 0.4 s: longer than the short callers' "
            "deadline, well within the others'")
    explains = frozenset()   # the short callers' DEADLINE_EXCEEDED is gRPC's own

    def begin(self, soak):
        for host in AZURE_HOSTS:
            soak.emulator.control("latency", {"host": host, "ms": 400, "count": -1})


class Drops(AzureFault):
    name = "dropped_connections"
    what = ("bursts of 30 connections closed without an answer on the vault and the HSM, "
            "every 0.5 s")
    explains = frozenset({"KMS_UNAVAILABLE"})

    def tick(self, soak):
        for host in AZURE_HOSTS:
            soak.emulator.control("drop", {"host": host, "count": 30})


class EntraDown(Episode):
    name = "token_endpoint_down"
    what = ("Entra ID's token endpoint answers 503 to every request, and every token "
            "issued so far is expired (so the brokers must ask for new ones)")
    explains = frozenset({"KMS_UNAVAILABLE"})

    def begin(self, soak):
        soak.emulator.control("fault", {"host": "entra", "status": 503, "count": -1,
                                        "path_contains": "oauth2/v2.0"})
        soak.emulator.control("expire-tokens", {})

    def end(self, soak):
        soak.emulator.control("clear-faults", {"host": "entra"})


class ExpiredTokens(Episode):
    name = "expired_tokens"
    what = "every access token issued so far expired, every 0.5 s"
    explains = frozenset()   # a 401 TokenExpired is answered with a fresh token

    def tick(self, soak):
        soak.emulator.control("expire-tokens", {})


class KeyDisabled(Episode):
    name = "key_disabled"
    what = "the current versions of soak-rsa and soak-aes disabled, then enabled again"
    explains = frozenset({"KEY_DISABLED"})

    def begin(self, soak):
        self.disabled = []
        for host, name in ((VAULT, "soak-rsa"), (HSM, "soak-aes")):
            bundle = soak.emulator.control("set-attributes", {"host": host, "name": name,
                                                              "enabled": False})
            # Re-enable exactly this version: a Rotate meanwhile moves "latest".
            self.disabled.append((host, name, bundle["key"]["kid"].rsplit("/", 1)[1]))

    def end(self, soak):
        for host, name, version in self.disabled:
            soak.emulator.control("set-attributes", {"host": host, "name": name,
                                                     "version": version, "enabled": True})


class AccessRevoked(Episode):
    name = "access_revoked"
    what = ("every operation of the brokers' principal revoked on the vault and the HSM, "
            "then granted again")
    explains = frozenset({"KEY_NOT_ACCESSIBLE"})

    def begin(self, soak):
        for host in AZURE_HOSTS:
            soak.emulator.control("revoke", {"host": host, "client_id": CLIENT_ID})

    def end(self, soak):
        for host in AZURE_HOSTS:
            soak.emulator.control("grant", {"host": host, "client_id": CLIENT_ID})


class BrokerKilled(Episode):
    name = "broker_sigkill"
    what = "the writable broker SIGKILLed, restarted on the same port 1 s later"
    explains = frozenset()   # callers see gRPC's own UNAVAILABLE, no ErrorInfo

    def begin(self, soak):
        soak.primary.kill_and_restart(pause=1.0)


class KeyringReplaced(Episode):
    name = "keyring_replaced"
    what = ("the read-only replica's keyring file rotated out of band with "
            "`keybrokerctl keyring rotate`, every 2 s")
    explains = frozenset()

    def begin(self, soak):
        self._last = 0.0

    def tick(self, soak):
        if time.monotonic() - self._last < 2:
            return
        self._last = time.monotonic()
        result = subprocess.run(
            [soak.keybrokerctl, "keyring", "rotate", "--keyring-file", soak.shared_keyring,
             "--master-key-file", soak.shared_master_key, "--key", soak.replica_key],
            capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"keybrokerctl keyring rotate failed: {result.stderr}")
        soak.replica_versions.append(json.loads(result.stdout)["key_version"])


# SlowVault follows an episode that explains nothing, so that no earlier fault's grace
# (checks.py) covers its errors.
EPISODES = (Throttle, ServerErrors, Latency, Drops, EntraDown, ExpiredTokens, SlowVault,
            KeyDisabled, AccessRevoked, BrokerKilled, KeyringReplaced)


class Schedule:
    """Runs the episodes in turn on a thread of its own until `seconds` have passed:
    each episode's fault is in force for 60% of `episode_seconds`, then cleared."""

    def __init__(self, soak, seconds: float, episode_seconds: float):
        self.windows = []       # (name, in force from, cleared at), monotonic seconds
        self.error = None
        self._soak = soak
        self._seconds = seconds
        self._episode_seconds = episode_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def join(self):
        self._thread.join()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        end = time.monotonic() + self._seconds
        try:
            while True:
                for episode_class in EPISODES:
                    if time.monotonic() + self._episode_seconds > end or self._stop.is_set():
                        return
                    self._one(episode_class())
        except Exception as error:   # the soak fails: a fault it could not apply or undo
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self._soak.emulator.control("clear-faults", {})

    def _one(self, episode):
        started = time.monotonic()
        active = self._episode_seconds * 0.6
        episode.begin(self._soak)
        try:
            while time.monotonic() - started < active and not self._stop.is_set():
                episode.tick(self._soak)
                self._stop.wait(0.5)
        finally:
            episode.end(self._soak)
            self.windows.append((episode.name, started, time.monotonic()))
        self._stop.wait(max(0.0, started + self._episode_seconds - time.monotonic()))
