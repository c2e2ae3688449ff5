"""The soak's report: plain text for people (and docs/reliability.md), JSON for tools."""
import collections
import json
import os
import platform


def percentile(values, fraction: float) -> float:
    """The nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


def machine() -> str:
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{platform.system()} {platform.release()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs ({model}), {mem_kib // 1024 // 1024} GiB RAM")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def calls_table(tally) -> list:
    lines = ["| method | code | reason | calls |", "| --- | --- | --- | ---: |"]
    for (method, code, reason), n in sorted(tally.calls.items()):
        lines.append(f"| {method} | {code} | {reason or ''} | {n} |")
    return lines


def latency_table(tally) -> list:
    lines = ["| method | calls | p50 ms | p99 ms | OK calls | OK p50 ms | OK p99 ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for method in sorted(tally.latency):
        every, ok = tally.latency[method], tally.latency_ok.get(method, [])
        lines.append(f"| {method} | {len(every)} | {_ms(percentile(every, .5))} | "
                     f"{_ms(percentile(every, .99))} | {len(ok)} | {_ms(percentile(ok, .5))} | "
                     f"{_ms(percentile(ok, .99))} |")
    return lines


def episodes_table(windows, episodes: dict, tally, judged, origin: float, end: float) -> list:
    """Per episode: when, for how long, OK calls and failures (by code/reason) from its
    start to the next episode's start."""
    lines = ["| t (s) | episode | in force (s) | OK calls | failures by code/reason |",
             "| ---: | --- | ---: | ---: | --- |"]
    starts = [w[1] for w in windows] + [end]
    for (name, start, cleared), until in zip(windows, starts[1:]):
        ok = sum(n for second, n in tally.ok_at.items() if start <= second < until)
        counts = collections.Counter(
            f"{f.code}/{f.reason or '-'}" for f, _, _ in judged if start <= f.started < until)
        failures = ", ".join(f"{k} {n}" for k, n in counts.most_common()) or "none"
        lines.append(f"| {start - origin:.0f} | {name} | {cleared - start:.1f} | {ok} | "
                     f"{failures} |")
    lines.append("")
    for name, episode in episodes.items():
        lines.append(f"- `{name}`: {episode.what}.")
    return lines


def rss_tables(samples, every: float) -> list:
    lines = ["| broker | start | pid | first MiB | max MiB | last MiB | samples |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    runs = collections.OrderedDict()
    for t, broker, incarnation, pid, kib in samples:
        runs.setdefault((broker, incarnation, pid), []).append((t, kib))
    for (broker, incarnation, pid), points in runs.items():
        values = [kib for _, kib in points]
        lines.append(f"| {broker} | {incarnation} | {pid} | {values[0] / 1024:.1f} | "
                     f"{max(values) / 1024:.1f} | {values[-1] / 1024:.1f} | {len(values)} |")
    lines += ["", "RSS over time (MiB, one sample per broker every "
              f"{every:.0f} s of run time):", "", "| t (s) | " + " | ".join(
                  sorted({b for _, b, _, _, _ in samples})) + " |"]
    names = sorted({b for _, b, _, _, _ in samples})
    lines.append("| ---: |" + " ---: |" * len(names))
    next_t = 0.0
    latest = {}
    for t, broker, _, _, kib in samples:
        latest[broker] = kib
        if t >= next_t and len(latest) == len(names):
            lines.append(f"| {t:.0f} | " + " | ".join(
                f"{latest[b] / 1024:.1f}" for b in names) + " |")
            next_t = t + every
    return lines


def judged_table(judged) -> list:
    counts = collections.Counter((c, f.method, f.code, f.reason or "-") for f, c, _ in judged)
    lines = ["| class | method | code | reason | calls |", "| --- | --- | --- | --- | ---: |"]
    for (c, method, code, reason), n in sorted(counts.items()):
        lines.append(f"| {c} | {method} | {code} | {reason} | {n} |")
    return lines


def audit_table(brokers, reasons: dict) -> list:
    """The brokers' own record of the calls that failed (their `audit` log lines, every
    incarnation), by outcome, reason and cause. Callers may never have seen these: a
    call whose deadline passed has its answer thrown away by gRPC."""
    counts = collections.Counter()
    for broker in brokers:
        with open(broker.log_file, errors="replace") as f:
            for line in f:
                if '"event":"audit"' not in line or '"outcome":"OK"' in line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                error = event.get("error", "")
                deadline = "deadline exceeded" in error or "deadline passed" in error
                counts[(broker.name, event.get("method"), event.get("outcome"),
                        event.get("reason"), event.get("cause"), deadline)] += 1
    lines = ["| broker | method | outcome | reason | cause | calls | note |",
             "| --- | --- | --- | --- | --- | ---: | --- |"]
    for (broker, method, outcome, reason, cause, deadline), n in sorted(counts.items()):
        notes = []
        if reason == "INTERNAL" or reasons.get(reason) != outcome:
            notes.append(f"not the table's: {reason} goes with "
                         f"{reasons.get(reason, 'no code')}")
        if outcome == "CANCELLED":
            notes.append("the caller's deadline passed (it never cancels)")
        if deadline and outcome != "DEADLINE_EXCEEDED":
            notes.append("the caller's deadline passed (the error says so)")
        note = "; ".join(notes)
        lines.append(f"| {broker} | {method} | {outcome} | {reason} | {cause} | {n} | {note} |")
    return lines
