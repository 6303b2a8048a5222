"""The report: a summary of pass / fail counts and a Markdown table of predicted vs measured per figure, with the
load the machine was under during each measurement."""


def _fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.{digits + 1}g}"
    return str(v)


def _err(row):
    e = row.get("error")
    if e is None:
        return "-"
    if row["kind"] == "points":
        return f"{e:+.1f} pp"
    if row["kind"] == "count":
        return f"{e:+.1f}"
    return f"{e * 100:+.1f}%"


def _tol(row):
    t = row["tolerance"]
    if t is None or row["kind"] == "info":
        return "(info)"
    if row["kind"] == "relative":
        return f"±{t * 100:.0f}%"
    if row["kind"] == "points":
        return f"±{t:g} pp"
    if row["kind"] == "p_value":
        return f"p ≥ {t:g}"
    if row["kind"] == "count":
        return f"x{t[0]:g} or ±{t[1]:g}"
    return str(t)


def summarize(doc, gate=None):
    """Counts over every figure; `gate` (a set of experiment numbers, None = all) picks the experiments whose
    failures decide the exit status, and the figures that failed outside it are counted apart, never dropped."""
    passed = failed = errors = failed_ungated = 0
    for p in doc["poolers"]:
        if "error" in p:
            errors += 1
        for c in p["cases"]:
            gated = gate is None or c.get("experiment") in gate
            if "error" in c:
                errors += 1
            for f in c.get("figures", []):
                if f["pass"] is True:
                    passed += 1
                elif f["pass"] is False:
                    failed += 1
                    if not gated:
                        failed_ungated += 1
    return {"passed": passed, "failed": failed, "errors": errors, "failed_outside_gate": failed_ungated,
            "gate": sorted(gate) if gate is not None else "all"}


def _noise(c):
    n = c.get("noise")
    if not n:
        return ""
    r = n.get("foreign_runnable") or {}
    text = (f"foreign {n['foreign_cores']:.2f} cores, {r.get('mean', 0):.1f} foreign runnable tasks, "
            f"steal {n['steal_cores']:.2f}, load {n['loadavg_before'][0]:.1f}")
    b = n.get("foreign_bursts")
    if b and b["runs_per_s"] > 0:
        names = ", ".join(sorted({t["comm"] for t in b["threads"]}))
        text += f", foreign bursts {b['runs_per_s']:.1f}/s of {b['mean_us'] / 1000:.2f} ms ({names})"
    return text


def autogroup_line(ag):
    """The scheduler's task groups as the harness found and measured them (validate.autogroup_off)."""
    if not ag:
        return "- autogroup: not recorded"
    if ag["found"] is None:
        return f"- autogroup: {ag['note']}"
    name = {"0": "off", "1": "on"}
    line = f"- autogroup (kernel.sched_autogroup_enabled): {name.get(ag['found'], ag['found'])} on this machine, "
    line += f"measured with it {name.get(ag['measured'], ag['measured'])}"
    line += " (rpsim's scheduler has no task groups)" if ag["measured"] == "0" else " (rpsim does not model it)"
    return line + (f"; {ag['note']}" if ag.get("note") else "")


def markdown(doc):
    s = doc["summary"]
    m = doc["machine"]
    lines = [
        f"# rpsim validation ({'quick subset' if doc['quick'] else 'full matrix'}"
        f"{', experiments ' + doc['only'] + ' only' if doc.get('only') else ''})",
        "",
        f"- date: {doc['started']} to {doc['finished']} (UTC); commit {doc['commit']}",
        f"- machine: {m['hostname']}, {m['cpu_model']}, {m['topology']['cores']} cores x "
        f"{m['topology']['threads_per_core']} threads, Linux {m['kernel']}; {m['postgres']}; {m['pgbouncer']}; "
        f"tcp_migrate_req={m['tcp_migrate_req']}",
        autogroup_line(doc.get("autogroup")),
        f"- load average at start {doc['load_at_start']}, at end {doc['load_at_end']} (the machine is shared; "
        "'foreign' below is CPU used by processes outside the experiment during the measurement window, in cores)",
        f"- note: {doc.get('note') or '-'}",
        f"- experiment processes ran at nice {doc.get('nice', 0)}",
        f"- figures passed {s['passed']}, failed {s['failed']}; cases that could not run: {s['errors']}",
        f"- gate: experiments {s.get('gate', 'all')} decide pass or fail; figures failed outside the gate: "
        f"{s.get('failed_outside_gate', 0)} (shown as FAIL below all the same)",
    ]
    if doc.get("interrupted"):
        lines.append(f"- INTERRUPTED: {doc['interrupted']}")
    for p in doc["poolers"]:
        lines += ["", f"## {p['pooler']}", ""]
        if "error" in p:
            lines.append(f"**Could not run:** {p['error']}")
            continue
        cal = p["calibration"]
        sel, slp = cal["scripts"]["select"], cal["scripts"]["sleep5ms"]
        lines += [
            f"Calibration ({cal['setup']}): per select-only transaction pooler {sel['pooler_per_query_s'] * 1e6:.1f} us,"
            f" Postgres {sel['postgres_per_txn_s'] * 1e6:.1f} us, pgbench {sel['pgbench_per_txn_s'] * 1e6:.1f} us; "
            f"pg_sleep(5ms) transaction: pooler {slp['pooler_per_query_s'] * 1e6:.1f} us, Postgres "
            f"{slp['postgres_per_txn_s'] * 1e6:.1f} us, pgbench {slp['pgbench_per_txn_s'] * 1e6:.1f} us; "
            f"pooler per wake-up {cal.get('pooler_wakeup_s', 0) * 1e6:.1f} us (the figures above are without "
            f"wake-ups; wake-ups per transaction: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cal.get("pooler_wakeups_per_txn", {}).items()) + "); "
            f"pgbench per wake-up {cal.get('pgbench_wakeup_s', 0) * 1e6:.1f} us (wake-ups per transaction: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cal.get("pgbench_wakeups_per_txn", {}).items()) + "); "
            f"a wake-up that interrupts another cpu {cal.get('ipi_wakeup_s', 0) * 1e6:.1f} us of CPU "
            f"(interprocessor interrupts per transaction: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cal.get("ipis_per_txn", {}).items() if v is not None)
            + "); "
            f"a wake-up onto an idle cpu {cal.get('idle_wakeup_s', 0) * 1e6:.1f} us more of CPU and "
            f"{cal.get('wakeup_latency_s', 0) * 1e6:.1f} us of time (cpuidle entries per transaction: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cal.get("idle_entries_per_txn", {}).items() if v is not None)
            + "); "
            f"pg_sleep(5ms) keeps a backend {cal.get('sleep_wait_s', 0.005) * 1e3:.3f} ms (fitted to the pg_sleep "
            f"phase's mean latency {cal.get('sleep_wait_fit', {}).get('measured_mean_s', 0) * 1e3:.3f} ms); "
            f"CPU costs lognormal with cv {cal.get('variability_cv', 0):.2f} (fitted to the select-only phase's p99 "
            f"{cal.get('variability_fit', {}).get('target_p99_ms', 0):.3f} ms); "
            f"-C: pooler login {cal['pooler_login_s'] * 1e6:.1f} us, pgbench per connection+transaction "
            f"{cal['pgbench_per_txn_connect_s'] * 1e6:.1f} us; loopback softirq per packet "
            f"{cal.get('softirq_per_packet_s', 0) * 1e6:.1f} us (login includes "
            f"{(cal['pooler_login_s'] - cal.get('pooler_login_process_s', cal['pooler_login_s'])) * 1e6:.1f} us of it)."
            " Calibration TPS: "
            + ", ".join(f"{k} {v['tps']:.0f} (foreign {v['noise']['foreign_cores']:.2f} cores)"
                        for k, v in cal["phases"].items()) + ".",
            "",
            "| exp | case | figure | predicted | measured | error | tolerance | result | noise-aware predicted "
            "(error) | noise in the window |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in p["cases"]:
            if "error" in c:
                lines.append(f"| {c['experiment']} | {c['name']} | could not run | | | | | ERROR: "
                             f"{c['error'].splitlines()[0][:160]} | | |")
                continue
            extra = ""
            if c.get("assignment"):
                extra = f" (assignment {c['assignment']})"
            if c["experiment"] == 1:
                extra = f" ({c['trials']} trials)"
            for f in c.get("figures", []):
                res = {True: "pass", False: "**FAIL**", None: "info"}[f["pass"]]
                na = "-"
                if "predicted_noise_aware" in f:
                    e = f.get("error_noise_aware")
                    es = "-" if e is None else (f"{e:+.1f} pp" if f["kind"] == "points" else
                                                f"{e:+.1f}" if f["kind"] == "count" else f"{e * 100:+.1f}%")
                    ok = {True: ", within", False: ", outside", None: ""}[f.get("pass_noise_aware")]
                    na = f"{_fmt(f['predicted_noise_aware'])} ({es}{ok})"
                lines.append(f"| {c['experiment']} | {c['name']}{extra} | {f['figure']} | {_fmt(f['predicted'])} | "
                             f"{_fmt(f['measured'])} | {_err(f)} | {_tol(f)} | {res} | {na} | {_noise(c)} |")
    lines.append("")
    return "\n".join(lines)
