"""keybroker processes for the soak: their configuration files, start, SIGKILL and
restart on the same port, and their resident memory (VmRSS) over time."""
import os
import signal
import socket
import subprocess
import threading
import time

from emulator import CLIENT_ID, CLIENT_SECRET, HSM, TENANT, VAULT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def azure_config(emulator, secrets_dir: str) -> tuple:
    """The `kms.azure` section and the two Azure key entries both brokers share."""
    with open(os.path.join(secrets_dir, "client-id"), "w") as f:
        f.write(CLIENT_ID + "\n")
    with open(os.path.join(secrets_dir, "client-secret"), "w") as f:
        f.write(CLIENT_SECRET + "\n")
    os.chmod(os.path.join(secrets_dir, "client-secret"), 0o600)
    kms = (
        "  azure:\n"
        f"    key_vault_tls: {{ ca_file: {emulator.ca_file} }}\n"
        "    request_timeout_seconds: 5\n"
        "    identities:\n"
        "      soak:\n"
        f"        tenant_id: {TENANT}\n"
        f"        client_id: {{ password_file: {secrets_dir}/client-id }}\n"
        f"        client_secret: {{ password_file: {secrets_dir}/client-secret }}\n"
        f"        oauth_endpoint_url: {emulator.url('entra')}\n"
        f"        tls: {{ ca_file: {emulator.entra_ca_file} }}\n")
    keys = (
        f"  - alias: rsa\n    azure_key: {emulator.url(VAULT)}/keys/soak-rsa\n"
        "    identity: soak\n    vault_kind: vault\n"
        f"  - alias: hsm\n    azure_key: {emulator.url(HSM)}/keys/soak-aes\n"
        "    identity: soak\n    vault_kind: managed_hsm\n")
    return kms, keys


def broker_config(port: int, local: str, local_key: tuple, azure: tuple,
                  cache_ttl_seconds: int) -> str:
    """A configuration on 127.0.0.1:`port` with the `local` keyring section (lines under
    `kms.local`), one local alias `local_key` = (alias, key name) and the Azure keys."""
    azure_kms, azure_keys = azure
    return (
        f"listen: 127.0.0.1:{port}\n"
        "log_level: info\n"
        "audit_log: true\n"
        f"cache: {{ metadata_ttl_seconds: {cache_ttl_seconds}, "
        f"unwrap_ttl_seconds: {cache_ttl_seconds} }}\n"
        "kms:\n"
        "  local:\n" + local + azure_kms +
        "keys:\n"
        f"  - alias: {local_key[0]}\n    local_key: {local_key[1]}\n" + azure_keys)


class Broker:
    """One keybroker, restartable on the same port. `down` holds the (killed, serving
    again) monotonic times of each SIGKILL, for telling a killed broker's UNAVAILABLE
    from any other."""

    def __init__(self, name: str, binary: str, config_file: str, log_file: str, port: int):
        self.name = name
        self.binary = binary
        self.config_file = config_file
        self.address = f"127.0.0.1:{port}"
        self.process = None
        self.incarnation = 0
        self.down = []          # [(killed_at, serving_at or None)]
        self.log_file = log_file
        self._log = open(log_file, "a")
        self._log_lock = threading.Lock()

    def start(self, timeout: float = 30) -> None:
        """Starts the broker and returns once it logged `listening`."""
        self.incarnation += 1
        listening = threading.Event()
        self.process = subprocess.Popen([self.binary, "--config", self.config_file],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        threading.Thread(target=self._copy_log, args=(self.process, listening),
                         daemon=True).start()
        if not listening.wait(timeout):
            raise RuntimeError(f"broker {self.name} did not start listening in {timeout} s "
                               f"(exit status {self.process.poll()}); see its log")

    def _copy_log(self, process, listening) -> None:
        for line in process.stderr:
            with self._log_lock:
                self._log.write(line)
            if not listening.is_set() and '"event":"listening"' in line.replace(" ", ""):
                listening.set()
        with self._log_lock:
            self._log.flush()

    def kill_and_restart(self, pause: float) -> None:
        """SIGKILLs the broker, waits `pause` seconds and starts it again."""
        killed = time.monotonic()
        self.down.append((killed, None))
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        time.sleep(pause)
        self.start()
        self.down[-1] = (killed, time.monotonic())

    def was_down(self, started: float, ended: float, grace: float) -> bool:
        """Whether [started, ended] overlaps a kill, up to `grace` s after serving again."""
        for killed, serving in self.down:
            back = (serving if serving is not None else float("inf")) + grace
            if started <= back and ended >= killed:
                return True
        return False

    def rss_kib(self) -> int:
        """The broker's VmRSS in KiB, or 0 while it is not running."""
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            pass
        return 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with self._log_lock:
            self._log.close()


class RssSampler:
    """Samples every broker's VmRSS each `interval` seconds on a thread of its own."""

    def __init__(self, brokers, interval: float, started: float):
        self.samples = []       # (seconds since start, broker, incarnation, pid, KiB)
        self._brokers = brokers
        self._interval = interval
        self._started = started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self._interval):
                return

    def sample(self) -> None:
        now = time.monotonic() - self._started
        for broker in self._brokers:
            process = broker.process
            if process is not None and process.poll() is None:
                self.samples.append((round(now, 1), broker.name, broker.incarnation,
                                     process.pid, broker.rss_kib()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
