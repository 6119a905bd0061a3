"""What a server process costs, read from /proc: CPU time and context switches of all its threads
and children, and pinning servers and load generators to separate CPUs."""

import glob
import os

TWO_CPUS = (os.cpu_count() or 1) >= 2


def pinned(cpu, argv):
    return (["taskset", "-c", str(cpu)] if TWO_CPUS else []) + argv


def cpu_ns(pids):
    """Run time of every thread of `pids` and their children, in nanoseconds."""
    return _per_thread(pids, "schedstat", lambda text: int(text.split()[0]))


def switches(pids):
    """Context switches (voluntary and involuntary) of every thread of `pids` and their children."""
    return _per_thread(
        pids, "status",
        lambda text: sum(int(line.split()[1]) for line in text.splitlines() if "ctxt_switches" in line))


def _per_thread(pids, name, parse):
    """The sum of `parse` over /proc/PID/task/*/NAME for `pids` and their descendants."""
    total = 0
    for pid in tree(pids):
        for path in glob.glob(f"/proc/{pid}/task/*/{name}"):
            try:
                with open(path) as f:
                    total += parse(f.read())
            except (OSError, ValueError, IndexError):
                pass  # a thread that ended between the listing and the read
    return total


def tree(pids):
    """`pids` and all their descendants (nginx and HAProxy fork workers)."""
    seen, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for children in glob.glob(f"/proc/{pid}/task/*/children"):
            try:
                with open(children) as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return seen
