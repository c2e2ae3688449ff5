"""Command line: start the listeners, print the ready line, exit cleanly on SIGTERM."""
import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time

from . import pki
from .control_routes import ControlApp
from .entra_routes import EntraApp
from .keys import MANAGED_HSM, VAULT
from .keyvault_routes import KeyVaultApp
from .server import HostServer
from .state import AZURE_NAMES, ENTRA, IMDS, LISTENER_NAMES, Emulator

DEFAULT_TENANT = "11111111-2222-3333-4444-555555555555"   # the reference's placeholder


def _name_and_port(text: str):
    name, _, port = text.partition(":")
    try:
        return name, int(port) if port else 0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME or NAME:PORT, got {text!r}") from None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="keyvault_emulator",
        description="Azure Key Vault / Managed HSM / Entra ID emulator for tests (see README.md).")
    parser.add_argument("--vault", action="append", default=[], type=_name_and_port,
                        metavar="NAME[:PORT]", help="serve a Key Vault (repeatable; port 0 = any)")
    parser.add_argument("--hsm", action="append", default=[], type=_name_and_port,
                        metavar="NAME[:PORT]", help="serve a Managed HSM (repeatable)")
    parser.add_argument("--entra", nargs="?", const=0, type=int, metavar="PORT",
                        help="serve the Entra ID token endpoint and IMDS over HTTPS")
    parser.add_argument("--imds", nargs="?", const=0, type=int, metavar="PORT",
                        help="also serve IMDS over plain HTTP, like the real 169.254.169.254")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--state-dir", help="where ca.pem etc. go (default: a new temp dir)")
    parser.add_argument("--separate-entra-ca", action="store_true",
                        help="sign the Entra listener's certificate with a second CA "
                             "(entra-ca.pem)")
    parser.add_argument("--audience-host-suffix", default="azure.net",
                        help="token audiences are https://vault.SUFFIX / https://managedhsm.SUFFIX")
    parser.add_argument("--tenant", default=DEFAULT_TENANT,
                        help="the hosts' tenant and the default tenant of principals")
    parser.add_argument("--region", default="westus", help="x-ms-keyvault-region")
    parser.add_argument("--public-names", choices=(AZURE_NAMES, LISTENER_NAMES),
                        default=AZURE_NAMES,
                        help="how vaults and HSMs name themselves in kid and nextLink: "
                             "azure = https://NAME.vault.SUFFIX (as Key Vault does), "
                             "listener = the listener's URL (for clients that follow them)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="exit when stdin closes (so the emulator dies with its parent)")
    parser.add_argument("--verbose", action="store_true",
                        help="log one line per request (method, path, status) to stderr")
    args = parser.parse_args(argv)
    if not (args.vault or args.hsm or args.entra is not None or args.imds is not None):
        parser.error("nothing to serve: give --vault, --hsm, --entra or --imds")
    return args


def _host_specs(args) -> list:
    specs = [(name, port, VAULT) for name, port in args.vault]
    specs += [(name, port, MANAGED_HSM) for name, port in args.hsm]
    if args.entra is not None:
        specs.append((ENTRA, args.entra, ENTRA))
    if args.imds is not None:
        specs.append((IMDS, args.imds, IMDS))
    return specs


def _start(args, emulator: Emulator, tls: pki.TlsMaterial, ports: dict) -> tuple:
    """Binds a listener for every host (ports: name -> port); returns (servers, control)."""
    servers = []
    for host in emulator.hosts.values():
        if host.kind in (VAULT, MANAGED_HSM):
            app, context = KeyVaultApp(emulator, host), tls.server_context()
        else:   # the real IMDS is plain HTTP (§9.5); the Entra host is HTTPS
            app = EntraApp(emulator, host)
            context = tls.server_context(entra=True) if host.kind == ENTRA else None
        server = HostServer(ports[host.name], host.name, app, emulator, context, args.verbose)
        host.url = server.url
        if host.kind in (VAULT, MANAGED_HSM):
            host.public_url = (server.url if args.public_names == LISTENER_NAMES
                               else emulator.azure_url(host))
        servers.append(server)
    control = HostServer(args.control_port, "control", ControlApp(emulator), emulator,
                         tls.server_context(), args.verbose)
    return servers, control


def _ready_line(emulator: Emulator, tls: pki.TlsMaterial, control, state_dir: str) -> str:
    hosts = {h.name: {"kind": h.kind, "url": h.url} for h in emulator.hosts.values()}
    for h in emulator.hosts.values():
        if h.public_url:
            hosts[h.name]["public_url"] = h.public_url
    return json.dumps({"ready": True, "ca_file": tls.ca_file, "entra_ca_file": tls.entra_ca_file,
                       "state_dir": state_dir, "hosts": hosts, "control": control.url})


def _stop_event(exit_on_stdin_eof: bool) -> threading.Event:
    """An event set by SIGTERM/SIGINT (and stdin EOF if asked). The main thread only polls
    it, never waits on it, so setting it from a signal handler cannot deadlock."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if exit_on_stdin_eof:
        def watch_stdin():
            # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader
            # holds its lock and makes interpreter shutdown abort.
            while os.read(sys.stdin.fileno(), 4096):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    return stop


def main(argv=None) -> int:
    args = parse_args(argv)
    stop = _stop_event(args.exit_on_stdin_eof)
    emulator = Emulator(args.tenant, args.audience_host_suffix, args.region)
    ports = {}
    try:
        for name, port, kind in _host_specs(args):
            emulator.add_host(name, kind)
            ports[name] = port
        state_dir = os.path.abspath(args.state_dir or
                                    tempfile.mkdtemp(prefix="keyvault-emulator-"))
        os.makedirs(state_dir, exist_ok=True)
        tls = pki.create(state_dir, args.separate_entra_ca)
        servers, control = _start(args, emulator, tls, ports)
    except (ValueError, OSError) as error:
        print(f"keyvault_emulator: {error}", file=sys.stderr)
        return 2
    for server in servers + [control]:
        threading.Thread(target=server.serve_forever, name=server.host_name, daemon=True).start()
    ready = _ready_line(emulator, tls, control, state_dir)
    with open(os.path.join(state_dir, "ready.json"), "w") as f:
        f.write(ready + "\n")
    print(ready, flush=True)
    while not stop.is_set():
        time.sleep(0.2)
    for server in servers + [control]:
        server.shutdown()
        server.server_close()
    return 0
