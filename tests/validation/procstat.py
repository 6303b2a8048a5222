"""CPU accounting from /proc: per-process CPU seconds, whole-machine busy time, and what else ran meanwhile.

The machine is shared, so every measurement window records how much CPU went to processes that are not part of
the experiment ("foreign" CPU: every other process's CPU, read from /proc), plus steal and the load average, so
a reader can judge whether a miss is the model's or the neighbours'.

Where softirq time goes (measured on this machine's kernel, CONFIG_TICK_CPU_ACCOUNTING=y without
CONFIG_IRQ_TIME_ACCOUNTING): the loopback network stack runs its softirq in the context of the sending task, and
that time is in the task's own utime+stime *and* in /proc/stat's softirq column. Over 10 s of a saturated 2-CPU
machine: /proc/stat busy 2.00 cores, the sum over every process 2.01 cores, softirq 0.08 cores. So irq + softirq
is not CPU that no process was charged; what no process was charged is machine busy time minus steal minus
every process's CPU (ksoftirqd's included, and counted as the network's: "unattributed").
"""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def _stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None, None
    # The command name may contain spaces: fields start after the last ')'.
    return data[data.index("(") + 1:data.rindex(")")], data[data.rindex(")") + 2:].split()


def proc_cpu_seconds(pid, reaped=False):
    """utime + stime of a process (all its threads), in seconds; None when it is gone. With reaped=True, plus
    cutime + cstime: the CPU of children it has waited for (a postmaster's exited backends)."""
    _, rest = _stat_fields(pid)
    if rest is None:
        return None
    ticks = int(rest[11]) + int(rest[12])
    if reaped:
        ticks += int(rest[13]) + int(rest[14])
    return ticks / CLK_TCK


def _sum_over_threads(pid, read):
    """The sum of read(path of a thread's /proc directory) over a process's threads; None when the process is gone
    or no thread gave a value (read returns None for a thread it could not read)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    values = [v for v in (read(f"/proc/{pid}/task/{tid}") for tid in tids) if v is not None]
    return sum(values) if values else None


def context_switches(pid, kind="voluntary"):
    """Context switches of all of a process's threads. Voluntary ones are sleeps in a blocking call (epoll_wait for
    a pooler), so their count is the number of times it was woken; "nonvoluntary" ones are the times the scheduler
    took the cpu from it while it could still run (a woken process preempting it, or its slice running out).
    None when the process is gone."""
    key = f"{kind}_ctxt_switches:"

    def read(task):
        try:
            with open(f"{task}/status") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            pass
        return None
    return _sum_over_threads(pid, read)


def run_delay_seconds(pid):
    """How long all of a process's threads have waited on a run queue, runnable but not running, in seconds (the
    second field of /proc/PID/task/TID/schedstat, kept by the kernel with CONFIG_SCHED_INFO). None when the process
    is gone or the kernel does not keep it."""
    def read(task):
        try:
            with open(f"{task}/schedstat") as f:
                return int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None
    return _sum_over_threads(pid, read)


def all_processes_cpu():
    """CPU seconds of every process on the machine, with the children each has reaped (so processes that came
    and went between two readings are still counted, in their parent), and separately ksoftirqd's."""
    total = network = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        comm, rest = _stat_fields(name)
        if rest is None:
            continue
        ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
        total += ticks
        if comm.startswith("ksoftirqd"):
            network += ticks
    return {"all": total / CLK_TCK, "ksoftirqd": network / CLK_TCK}


def thread_runs(exclude_pids):
    """Every thread of every process not in exclude_pids, as tid -> (comm, ns it ran on a cpu, times it ran), from
    /proc/PID/task/TID/schedstat (run time, run-queue wait, timeslices; CONFIG_SCHED_INFO). Threads that vanish
    while being read are left out."""
    excluded = {int(p) for p in exclude_pids}
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in excluded:
            continue
        try:
            tids = os.listdir(f"/proc/{name}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{name}/task/{tid}/schedstat") as f:
                    ran_ns, _, runs = f.read().split()[:3]
                with open(f"/proc/{name}/task/{tid}/comm") as f:
                    comm = f.read().strip()
            except (OSError, ValueError):
                continue
            out[int(tid)] = (comm, int(ran_ns), int(runs))
    return out


# A foreign thread whose runs average this long or more is reported as coming in bursts: on this machine kdamond.0
# (the kernel's DAMON memory monitor) and the VM's agent run in 1-4 ms chunks, longer than the p99 of a
# select-only transaction, and every client stalls behind one (tests/validation/README.md, session 9). The many
# short runs of kworkers and ksoftirqd (2-40 us) are not.
BURST_MEAN_US = 200


def foreign_bursts(a, b, wall, min_mean_us=BURST_MEAN_US):
    """The foreign threads that ran in long bursts between two thread_runs() snapshots: how often such runs came
    (per second), their mean length and the cores they took, and the five largest threads. A thread new in b counts
    from zero."""
    threads = []
    for tid, (comm, ran_b, runs_b) in b.items():
        _, ran_a, runs_a = a.get(tid, (comm, 0, 0))
        runs, ns = runs_b - runs_a, ran_b - ran_a
        if runs > 0 and ns >= min_mean_us * 1000 * runs:
            threads.append({"comm": comm, "runs": runs, "mean_us": ns / runs / 1000, "cpu_s": ns / 1e9})
    threads.sort(key=lambda t: -t["cpu_s"])
    runs = sum(t["runs"] for t in threads)
    cpu = sum(t["cpu_s"] for t in threads)
    return {"runs_per_s": runs / wall, "mean_us": cpu * 1e6 / runs if runs else 0.0, "cores": cpu / wall,
            "threads": threads[:5]}


def proc_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(")") + 2:].split()[1])


def children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and proc_ppid(int(name)) == ppid:
            out.append(int(name))
    return out


def machine_times():
    """Aggregate /proc/stat cpu line in seconds: busy (without idle/iowait), steal, irq+softirq, total."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return {"busy": busy / CLK_TCK, "steal": steal / CLK_TCK, "irq": (irq + softirq) / CLK_TCK,
            "total": (busy + idle + iowait) / CLK_TCK}


def idle_entries():
    """Times the cpus entered an idle state (every state of every cpu: /sys/devices/system/cpu/cpu*/cpuidle/
    state*/usage), or None where the kernel has no cpuidle driver. Each entry ends in a wake-up of that cpu, so
    the count per transaction says how often work found a sleeping cpu (here the haltpoll driver with guest
    polling off: every entry is a HLT, an exit from the virtual machine)."""
    total, seen = 0, False
    for cpu in range(NCPU):
        base = f"/sys/devices/system/cpu/cpu{cpu}/cpuidle"
        try:
            states = os.listdir(base)
        except OSError:
            continue
        for s in states:
            try:
                with open(f"{base}/{s}/usage") as f:
                    total += int(f.read())
                seen = True
            except (OSError, ValueError):
                pass
    return total if seen else None


def interprocessor_interrupts(path="/proc/interrupts"):
    """Interprocessor interrupts of every cpu: /proc/interrupts' rescheduling and function-call lines (x86's RES
    and CAL, arm64's IPI0 and IPI1), or None where it has neither. Linux sends one when a process on one cpu wakes
    one that must run at once on another: CAL to queue it on an idle cpu's wake list, RES to preempt a busy one.
    Inside a virtual machine each exits to the hypervisor on both sides, which is what made the 2-client
    calibration phase cost about 26 us more CPU per interrupt on 2026-11-25 (hosts[].ipi_wakeup)."""
    total, seen = 0, False
    try:
        with open(path) as f:
            lines = f.readlines()
    except OSError:
        return None
    for line in lines:
        if "Rescheduling interrupts" not in line and "Function call interrupts" not in line:
            continue
        for field in line.split()[1:1 + NCPU]:
            if not field.isdigit():
                break
            total += int(field)
        seen = True
    return total if seen else None


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class CpuGroups:
    """Named groups of pids whose CPU is tracked between two snapshots; a group may be a callable that lists
    its pids at snapshot time (Postgres backends come and go). Groups named in `reaping` have their parent among
    their pids (the postmaster), which waits for the others: its reaped-children time counts, so a backend that
    exits inside the window is counted in full (see delta())."""

    def __init__(self, groups, reaping=(), wakeups=()):
        self.groups = groups  # name -> list of pids or callable returning one
        self.reaping = set(reaping)
        self.wakeups = list(wakeups)  # groups whose wake-ups (voluntary context switches) are counted

    def _pids(self, g):
        v = self.groups[g]
        return list(v() if callable(v) else v)

    def snapshot(self):
        snap = {"machine": machine_times(), "idle_entries": idle_entries(), "ipis": interprocessor_interrupts(),
                "load": loadavg(), "procs": {},
                "all": all_processes_cpu(), "reaping": sorted(self.reaping)}
        # Each group's pids once per snapshot (listing Postgres's backends scans /proc), so every reading below
        # is of the same processes.
        pids = {g: self._pids(g) for g in self.groups}
        for g in self.groups:
            snap["procs"][g] = {pid: proc_cpu_seconds(pid, g in self.reaping) for pid in pids[g]}
        snap["wakes"] = {g: {pid: context_switches(pid) for pid in pids[g]} for g in self.wakeups}
        snap["preempts"] = {g: {pid: context_switches(pid, "nonvoluntary") for pid in pids[g]} for g in self.wakeups}
        snap["delays"] = {g: {pid: run_delay_seconds(pid) for pid in pids[g]} for g in self.wakeups}
        snap["procs"]["harness"] = {os.getpid(): proc_cpu_seconds(os.getpid())}
        snap["threads"] = thread_runs([pid for g in pids for pid in pids[g]] + [os.getpid()])
        return snap


def _counter_delta(a, b, key):
    """How much a machine-wide counter of the snapshots (idle_entries, ipis) rose from a to b; None where the
    machine has no such counter."""
    return b[key] - a[key] if a.get(key) is not None and b.get(key) is not None else None


def delta(a, b, wall):
    """CPU seconds per group between snapshots a and b, the foreign CPU and the machine's figures.
    A pid new in b counts from zero. A pid gone in b: in a reaping group its whole life arrives in the parent's
    reaped-children time, so what it had used by a is taken off again; elsewhere its time after a is lost."""
    groups = {}
    per_pid = {}
    reaping = set(b.get("reaping", ()))
    for g, pids in b["procs"].items():
        total = 0.0
        for pid, cb in pids.items():
            if cb is None:
                continue
            ca = a["procs"].get(g, {}).get(pid) or 0.0
            total += cb - ca
            per_pid[pid] = cb - ca
        if g in reaping:
            total -= sum(ca or 0.0 for pid, ca in a["procs"].get(g, {}).items() if b["procs"][g].get(pid) is None)
        groups[g] = total
    def per_thread_counter(key):
        """A per-process counter's growth, summed per group (a pid new in b counts from zero)."""
        return {g: sum(nb - (a.get(key, {}).get(g, {}).get(pid) or 0) for pid, nb in pids.items() if nb is not None)
                for g, pids in b.get(key, {}).items()}
    wakeups = per_thread_counter("wakes")
    ma, mb = a["machine"], b["machine"]
    busy = mb["busy"] - ma["busy"]
    steal = mb["steal"] - ma["steal"]
    own = sum(groups.values())
    every = b["all"]["all"] - a["all"]["all"]
    network = b["all"]["ksoftirqd"] - a["all"]["ksoftirqd"]
    return {
        "wall_s": wall,
        "cpu_s": groups,
        "per_pid_cpu_s": per_pid,
        "wakeups": wakeups,
        "preemptions": per_thread_counter("preempts"),  # involuntary context switches
        "run_delay_s": per_thread_counter("delays"),  # time runnable on a run queue without running
        "machine_busy_cores": busy / wall,
        "experiment_cores": own / wall,
        # Other processes' CPU, read from each of them (ksoftirqd is the network's, not a neighbour's).
        "foreign_cores": max(0.0, every - network - own) / wall,
        # CPU that no process was charged (softirq in idle context, ksoftirqd): the network's own cost, which
        # rpsim charges as network.softirq_per_packet. Tick-sampled, so it scatters by a few ticks around 0.
        "unattributed_cores": max(0.0, busy - steal - (every - network)) / wall,
        "steal_cores": steal / wall,
        "idle_entries": _counter_delta(a, b, "idle_entries"),
        "ipis": _counter_delta(a, b, "ipis"),
        # /proc/stat's irq + softirq: informational only, it is mostly inside the processes' own time.
        "irq_cores": (mb["irq"] - ma["irq"]) / wall,
        # Other threads that ran in bursts of BURST_MEAN_US or more, which "foreign_cores" averages away.
        "foreign_bursts": foreign_bursts(a["threads"], b["threads"], wall) if "threads" in a and "threads" in b
        else None,
        "loadavg_before": a["load"],
        "loadavg_after": b["load"],
    }


def _task_states(pid):
    states = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    data = f.read()
                states.append(data[data.rindex(")") + 2])
            except OSError:
                pass
    except OSError:
        pass
    return states


class RunnableSampler:
    """Samples, every `interval` seconds in a thread, how many tasks outside the experiment are runnable: the
    machine's running count (/proc/loadavg's 4th field) minus the experiment's own tasks in state R. Its mean is
    the number of CPU hogs the noise-aware prediction adds to the host."""

    def __init__(self, pids_fn, interval=0.05):
        import threading
        self.pids_fn, self.interval = pids_fn, interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        pids = list(self.pids_fn()) + [os.getpid()]
        n = 0
        while not self._stop.is_set():
            if n % 20 == 0:
                pids = list(self.pids_fn()) + [os.getpid()]
            n += 1
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            ours = sum(st == "R" for pid in pids for st in _task_states(pid))
            # Not clamped per sample: the two reads are not atomic, so the difference scatters around the true
            # count in both directions; clamping each sample at 0 would bias a quiet machine's mean upwards.
            self.samples.append(running - ours)
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        n = len(self.samples)
        return {"samples": n, "mean": max(0.0, sum(self.samples) / n) if n else 0.0,
                "max": max(self.samples) if n else 0}
