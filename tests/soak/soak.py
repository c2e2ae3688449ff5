#!/usr/bin/python3
"""A fault soak of keybroker that proves nothing is lost.

Runs the real keybroker binary twice (a writable broker, "primary", and a read-only
replica on a keyring rotated out of band) against the Key Vault emulator, with M caller
threads making every RPC on local, RSA (Key Vault) and AES (Managed HSM) keys while a
schedule injects faults (faults.py). Then it clears the faults, unwraps every EDEK handed
out during the run and checks that each gives back exactly its DEK, and that every error
was typed (checks.py). Exit status 0 only when nothing was lost, no plaintext was wrong,
no error was untyped, INTERNAL or misattributed, and the soak itself ran as planned.

Usage: soak.py --seconds N --clients M --keybroker BIN --keybrokerctl BIN [--source-dir D]
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import brokers as brokers_lib  # noqa: E402
import checks  # noqa: E402
import faults  # noqa: E402
import load  # noqa: E402
import report  # noqa: E402
import rpc  # noqa: E402
import verify  # noqa: E402
from emulator import Emulator  # noqa: E402


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=8, help="caller threads")
    parser.add_argument("--deadline", type=float, default=2.0,
                        help="the gRPC deadline of four calls in five, seconds")
    parser.add_argument("--short-deadline", type=float, default=0.25,
                        help="the gRPC deadline of the other calls, seconds")
    parser.add_argument("--cache-ttl", type=int, default=5,
                        help="the brokers' metadata and unwrap cache TTLs, seconds")
    parser.add_argument("--episode-seconds", type=float, default=0,
                        help="length of one fault episode (default: fits every fault in "
                             "the run, at most 20 s)")
    parser.add_argument("--rss-interval", type=float, default=2.0,
                        help="seconds between samples of each broker's VmRSS")
    parser.add_argument("--keybroker", required=True)
    parser.add_argument("--keybrokerctl", required=True)
    parser.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(here)))
    parser.add_argument("--work-dir", help="default: a new temporary directory, removed "
                                           "after a run that passed")
    parser.add_argument("--report", help="also write the text report here")
    parser.add_argument("--report-json", help="also write the counts as JSON here")
    args = parser.parse_args()
    if args.seconds < 4 * len(faults.EPISODES):
        parser.error(f"--seconds must be at least {4 * len(faults.EPISODES)} "
                     "(every fault needs its turn)")
    if not args.episode_seconds:
        args.episode_seconds = min(20.0, (args.seconds - 2) / len(faults.EPISODES))
    return args


class Soak:
    """What the fault episodes act on (faults.py reads these attributes)."""

    def __init__(self, args, work: str):
        self.args = args
        self.work = work
        self.deadline = args.deadline
        self.keybrokerctl = args.keybrokerctl
        self.replica_key = "soak-replica"
        self.replica_versions = ["1"]
        self.emulator = None
        self.primary = None
        self.replica = None

    def ctl(self, *argv) -> dict:
        result = subprocess.run([self.keybrokerctl, *argv], capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"keybrokerctl {' '.join(argv)}: {result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def set_up(self):
        a = self.args
        self.emulator = Emulator(a.source_dir, os.path.join(self.work, "emulator"))
        self.emulator.set_up_soak_keys()
        for d in ("primary", "shared", "secrets"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        azure = brokers_lib.azure_config(self.emulator, os.path.join(self.work, "secrets"))
        primary_master = os.path.join(self.work, "primary/master-key")
        self.shared_keyring = os.path.join(self.work, "shared/keyring")
        self.shared_master_key = os.path.join(self.work, "shared/master-key")
        self.ctl("keyring", "new-master-key", "--out", primary_master)
        self.ctl("keyring", "new-master-key", "--out", self.shared_master_key)
        self.ctl("keyring", "init", "--keyring-file", self.shared_keyring, "--master-key-file",
                 self.shared_master_key, "--key", self.replica_key)
        configs = {
            "primary": brokers_lib.broker_config(
                brokers_lib.free_port(),
                f"    keyring_file: {self.work}/primary/keyring\n"
                f"    master_key_file: {primary_master}\n",
                ("local", "soak-local"), azure, a.cache_ttl),
            "replica": brokers_lib.broker_config(
                brokers_lib.free_port(),
                f"    keyring_file: {self.shared_keyring}\n"
                f"    master_key_file: {self.shared_master_key}\n"
                "    read_only: true\n    reload_interval_seconds: 1\n",
                ("replica", self.replica_key), azure, a.cache_ttl),
        }
        started = {}
        for name, config in configs.items():
            path = os.path.join(self.work, f"{name}.yaml")
            with open(path, "w") as f:
                f.write(config)
            port = int(config.split("\n", 1)[0].rsplit(":", 1)[1])
            started[name] = brokers_lib.Broker(name, a.keybroker, path,
                                               os.path.join(self.work, f"{name}.log"), port)
            started[name].start()
        self.primary, self.replica = started["primary"], started["replica"]

    def wait_until_healthy(self, stubs, timeout: float) -> bool:
        """Whether both brokers say every Azure key is accessible within `timeout`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if all(stubs[b].call("DescribeKey", 5, key=k).accessible
                       for b in ("primary", "replica") for k in ("rsa", "hsm")):
                    return True
            except Exception:
                pass
            time.sleep(0.5)
        return False

    def tear_down(self):
        for broker in (self.primary, self.replica):
            if broker is not None:
                broker.stop()
        if self.emulator is not None:
            self.emulator.stop()


def run(args, work: str) -> int:
    soak = Soak(args, work)
    problems = []
    lines = []
    try:
        protos = rpc.load_protos(os.path.join(args.source_dir, "proto"),
                                 os.path.join(work, "gen"))
        reasons = checks.documented_reasons(
            os.path.join(args.source_dir, "common/error_reason.cc"))
        soak.set_up()
        broker_list = [soak.primary, soak.replica]
        stubs = {b.name: rpc.Stub(protos, b.address) for b in broker_list}
        ledger, tally, stop = load.Ledger(), load.Tally(), threading.Event()
        origin = time.monotonic()
        sampler = brokers_lib.RssSampler(broker_list, args.rss_interval, origin)
        sampler.start()
        callers = [load.Caller(i, {n: (b, stubs[n]) for n, b in
                                   (("primary", soak.primary), ("replica", soak.replica))},
                               ledger, tally, (args.deadline, args.short_deadline), stop)
                   for i in range(args.clients)]
        for caller in callers:
            caller.start()
        schedule = faults.Schedule(soak, args.seconds, args.episode_seconds)
        schedule.start()
        stop.wait(args.seconds)
        stop.set()
        schedule.stop()
        for caller in callers:
            caller.join()
        load_end = time.monotonic()
        problems += [f"caller {c.name}: {c.error}" for c in callers if c.error]
        if schedule.error:
            problems.append(f"fault schedule: {schedule.error}")
        healthy = soak.wait_until_healthy(stubs, timeout=60)
        if not healthy:
            problems.append("the brokers did not report every Azure key accessible within "
                            "60 s of the faults being cleared")
        records = ledger.all()
        verification = verify.verify(records, stubs, deadline=10, threads=args.clients)
        sampler.stop()
        episodes = {e.name: e for e in faults.EPISODES}
        judge = checks.Judge(reasons, schedule.windows,
                             {n: e.explains for n, e in episodes.items()},
                             {"primary": soak.primary, "replica": soak.replica},
                             grace=args.cache_ttl + 3, transport_grace=args.deadline + 1)
        judged = [(f, *judge.classify(f)) for f in tally.failures]
        problems += plan_problems(schedule, episodes, tally, soak, records)
        lines = build_report(args, soak, tally, judged, schedule, episodes, sampler,
                             verification, records, origin, load_end,
                             soak.emulator.control("counts"), reasons)
        failed = verdict_failures(judged, tally, verification, problems)
        lines += ["", "## Verdict", ""] + ([f"- FAIL: {p}" for p in failed] or
                                           ["PASS: nothing lost, no wrong plaintext, every "
                                            "error typed and attributed"])
        for stub in stubs.values():
            stub.close()
        return_code = 1 if failed else 0
    finally:
        soak.tear_down()
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    if args.report_json:
        write_json(args.report_json, tally, judged, verification, sampler.samples,
                   schedule.windows, origin)
    return return_code


def plan_problems(schedule, episodes, tally, soak, records) -> list:
    """Ways the soak itself did not run as planned (which would make a pass worthless)."""
    problems = []
    missing = set(episodes) - {w[0] for w in schedule.windows}
    if missing:
        problems.append(f"episodes that never ran: {sorted(missing)}")
    if not soak.primary.down:
        problems.append("the primary broker was never killed")
    if len(soak.replica_versions) < 2:
        problems.append("the replica's keyring was never rotated out of band")
    for method in ("GenerateDek", "Wrap", "Unwrap(warm)", "Unwrap(cold)", "Rewrap",
                   "DescribeKey", "Rotate"):
        if not tally.latency_ok.get(method):
            problems.append(f"no {method} call succeeded")
    replica_versions = {r.version for r in records if r.kind == "replica"}
    if not replica_versions - {"1"}:
        problems.append("the replica never wrapped under a version rotated out of band")
    kinds = {r.kind for r in records}
    if kinds != set(load.KINDS):
        problems.append(f"no EDEK handed out for key kinds {sorted(set(load.KINDS) - kinds)}")
    return problems


def verdict_failures(judged, tally, verification, problems) -> list:
    failed = list(problems)
    bad = [(f, c, note) for f, c, note in judged if c not in checks.ACCEPTED]
    for c in ("untyped", "internal", "misattributed"):
        n = sum(1 for _, k, _ in bad if k == c)
        if n:
            failed.append(f"{n} {c} errors")
    if tally.wrong:
        failed.append(f"{len(tally.wrong)} wrong plaintexts during the run")
    if verification.lost:
        failed.append(f"{len(verification.lost)} EDEKs lost")
    if verification.wrong:
        failed.append(f"{len(verification.wrong)} EDEKs unwrapped to a wrong plaintext")
    return failed


def build_report(args, soak, tally, judged, schedule, episodes, sampler, verification,
                 records, origin, load_end, emulator_counts, reasons) -> list:
    command = (f"scripts/soak.sh --seconds {args.seconds:g} --clients {args.clients}"
               f" (deadlines {args.deadline:g} s and, one call in five, {args.short_deadline:g} s;"
               f" cache TTLs {args.cache_ttl} s, episodes "
               f"{args.episode_seconds:g} s)")
    total = sum(tally.calls.values())
    lines = ["# keybroker fault soak", "", f"- machine: {report.machine()}",
             f"- command: {command}",
             f"- load: {args.clients} caller threads for {load_end - origin:.0f} s, "
             f"{total} calls ({total / max(1, load_end - origin):.0f}/s)",
             f"- EDEKs handed out: {len(records)} (" + ", ".join(
                 f"{k} {sum(1 for r in records if r.kind == k)}" for k in load.KINDS) + ")",
             f"- primary broker restarts: {len(soak.primary.down)}; replica keyring versions "
             f"rotated in: {', '.join(soak.replica_versions)}; EDEKs by replica key version: "
             + ", ".join(f"v{v} {n}" for v, n in sorted(collections.Counter(
                 r.version for r in records if r.kind == "replica").items(),
                 key=lambda item: int(item[0]))),
             "", "## Calls by method, code and reason", ""] + report.calls_table(tally)
    lines += ["", "## Latency by method (every call, and OK calls only)", ""]
    lines += report.latency_table(tally)
    lines += ["", "## Fault episodes", ""]
    lines += report.episodes_table(schedule.windows, episodes, tally, judged, origin, load_end)
    lines += ["", "## Errors judged", "",
              "typed = a documented reason with its code and ErrorInfo, explained by a fault "
              "in force; client_deadline = gRPC's DEADLINE_EXCEEDED after the caller's "
              "deadline; broker_killed = gRPC's UNAVAILABLE while the broker was down.", ""]
    lines += report.judged_table(judged)
    bad = [(f, c, note) for f, c, note in judged if c not in checks.ACCEPTED]
    if bad:
        lines += ["", "First failures (up to 20):", ""]
        for f, c, note in bad[:20]:
            lines.append(f"- [{c}] t={f.started - origin:.1f}s {f.broker} {f.method} "
                         f"{f.kind}: {note}")
    lines += ["", "## The brokers' own record of failed calls (audit lines)", "",
              "What each broker logged and counted (keybroker_rpc_requests_total) for calls "
              "that did not succeed, whether or not the caller saw the answer (after a "
              "caller's deadline gRPC drops it). Reported, not judged: the judged errors are "
              "the callers' above.", ""]
    lines += report.audit_table([soak.primary, soak.replica], reasons)
    lines += ["", "## Key Vault emulator requests (faulted ones included)", ""]
    for host, operations in sorted(emulator_counts.items()):
        lines.append(f"- {host}: " + (", ".join(f"{op} {n}" for op, n in sorted(
            operations.items())) or "none"))
    lines += ["", "## Broker memory (VmRSS)", ""] + report.rss_tables(sampler.samples, 30)
    lines += ["", "## Final verification", "",
              f"- EDEKs unwrapped after the faults were cleared: {verification.checked} in "
              f"{verification.seconds:.1f} s ({verification.retries} retries)",
              f"- lost: {len(verification.lost)}", f"- wrong plaintext: "
              f"{len(verification.wrong)} (plus {len(tally.wrong)} seen during the run)"]
    for record, failure in verification.lost[:20]:
        lines.append(f"  - lost {record.kind} from {record.origin}: {failure.code}/"
                     f"{failure.reason or '-'} {failure.message}")
    return lines


def write_json(path, tally, judged, verification, samples, windows, origin):
    data = {"calls": [{"method": m, "code": c, "reason": r, "n": n}
                      for (m, c, r), n in sorted(tally.calls.items())],
            "latency_ms": {m: {"p50": report.percentile(v, .5) * 1000,
                               "p99": report.percentile(v, .99) * 1000, "n": len(v)}
                           for m, v in tally.latency.items()},
            "judged": {c: sum(1 for _, k, _ in judged if k == c)
                       for c in ("typed", "client_deadline", "broker_killed", "untyped",
                                 "internal", "misattributed")},
            "verified": verification.checked, "lost": len(verification.lost),
            "wrong": len(verification.wrong) + len(tally.wrong),
            "rss_kib": samples,
            "episodes": [(n, s - origin, e - origin) for n, s, e in windows]}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def main() -> int:
    args = parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix="keybroker-soak-")
    os.makedirs(work, exist_ok=True)
    if os.listdir(work):
        sys.exit(f"--work-dir {work} is not empty")
    code = run(args, work)
    if code == 0 and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    elif code != 0:
        print(f"work directory kept: {work} (broker logs primary.log, replica.log)")
    return code


if __name__ == "__main__":
    sys.exit(main())
