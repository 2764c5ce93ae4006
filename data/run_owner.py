"""Who trains a run, so that a run whose process was killed (kill -9, the OOM killer, a lost machine) does not
stay `running` forever: `claim` writes OWNER_FILE into the run's artifact folder when it starts, `release`
removes it when the run finishes, and `abandoned` tells from it whether the process is gone."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from data.errors import cannot

# "<host> <pid> <start time> <pid namespace>" of the process training the run (older ones: "<host> <pid>")
OWNER_FILE = ".owner"


def claim(folder: Path) -> None:
    """Record this process as the owner of the run whose artifact folder is `folder`."""
    try:
        (folder / OWNER_FILE).write_text(_owner())
    except OSError as exc:   # a full disk, a file size limit
        raise cannot(f"{folder / OWNER_FILE}: cannot write the run's files", exc) from None


def _owner() -> str:
    """This process as a run's owner: '<host> <pid>', then where /proc shows them its start time, which tells it
    from a later process given the same pid, and its pid namespace: a container sharing the host's name
    (`--network host`) numbers its processes apart, so its pids say nothing to a process outside it."""
    stat = _proc_stat(os.getpid())
    return " ".join([socket.gethostname(), str(os.getpid()), *([stat[1], _pid_namespace()] if stat else [])])


def _pid_namespace() -> str:
    """This process's pid namespace ('pid:[4026531836]'), '-' where /proc does not show it."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def _recorded(folder: Path) -> tuple[str, int, str | None] | None:
    """(host, pid, start time) of the run's owner where it is visible from here (this host, this pid namespace),
    else None: no owner recorded, another host or container, or not "<host> <pid> [<start> <pid namespace>]"."""
    try:
        host, pid, *proc = (folder / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return None
    started, namespace = (proc + [None, None])[:2]
    if host != socket.gethostname() or namespace not in (None, _pid_namespace()) or not pid.isdigit():
        return None
    return host, int(pid), started


def abandoned(folder: Path) -> str | None:
    """Why a `running` run can never finish, or None while it may: the process that started it, on this host,
    is gone. A run started on another host sharing the home, in another pid namespace (a container), or by a
    Marquee that recorded no owner, is never called abandoned: its process cannot be seen from here."""
    owner = _recorded(folder)
    if owner is None or _alive(owner[1], owner[2]):
        return None
    return f"abandoned: process {owner[1]} on {owner[0]} ended without finishing the run (killed?)"


def still_running(folder: Path) -> str | None:
    """'process PID on HOST' while the run's owner is seen running from here, else None (gone, or not visible)."""
    owner = _recorded(folder)
    return f"process {owner[1]} on {owner[0]}" if owner is not None and _alive(owner[1], owner[2]) else None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of process `pid` from /proc, or None: no such process,
    or no /proc that shows it (not Linux, another user's process under hidepid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], fields[19]


def _alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a run's owner still runs. A zombie (killed, its parent has not waited
    for it yet: a scheduler's child killed by the OOM killer) is gone, and so is a process that took the pid
    since (its start time differs: a container's pid 1 each time); without /proc, only whether the pid is
    taken (err on the safe side: the run stays `running`)."""
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[0] != "Z" and started in (None, stat[1])
    try:
        os.kill(pid, 0)   # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, another user's
        return True
    return True


def release(folder: Path) -> None:
    """The run finished: it needs no owner any more (its status says it all)."""
    (folder / OWNER_FILE).unlink(missing_ok=True)
