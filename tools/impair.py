"""Make one lab host's network worse, and well again: ``make impair`` / ``make heal``.

    make impair HOST=udp-server LOSS=30%        # each datagram in or out: 30 % are dropped
    make impair HOST=ftp RATE=1mbit             # 1 Mbit/s each way
    make impair HOST=udp-server DELAY=200ms JITTER=50ms   # needs netem in the kernel
    make impair                                 # what is in effect, read from the hosts
    make heal HOST=udp-server                   # well again (make heal alone: every host)

How, and why so:

* **Where.** In the impaired host's own network namespace, through a short-lived helper
  container of the lab image that joins it (``docker run --rm --network container:<id>
  --cap-drop ALL --cap-add NET_ADMIN -u 0``, the way Pumba and containerlab do it).  The
  helper holds NET_ADMIN over that one namespace for a second; the server container itself
  keeps no capabilities at all, before, during and after.  Every other host, and the
  host's loopback (its healthcheck), are untouched.
* **Loss** is an nftables table of its own, ``inet socklab_impair``: in its input and output
  chains ``numgen random mod 10000 < N drop`` for every packet not on ``lo`` -- so both
  directions, each independently (30 % each way: a request and its reply both get through
  0.7 x 0.7 = 49 % of the time).  No netem is needed.  nft rather than iptables: the table
  is applied in one atomic transaction, removed with one command, read back as JSON, and
  lives beside Docker's own rules (iptables-nft or legacy) without touching them.
* **Rate** is a token bucket (``tc qdisc tbf``) on the egress of ``eth0``; incoming packets
  are redirected to an ``ifb`` device with the same token bucket on its egress, so both
  directions are *shaped* (queued, as on a slow link) rather than policed.  Where the kernel
  has no ifb, an ingress policer (``u32 ... police ... drop``) limits incoming traffic by
  dropping; where it has neither, nothing is applied and one line says so.
* **Delay and jitter** need the netem qdisc.  The helper checks for it first: a kernel
  without it gets one line saying it cannot delay packets, exit status 1, nothing applied.
* **Nothing half-applied.** One helper run removes what was there, then applies everything;
  if any step fails, it removes everything again and the error is one line.
* **What is in effect** is read back from the namespace (``nft -j list table``, ``tc -j``),
  never taken from a file.  A small state file, ``.lab/impair/<lab>.json``, only says which
  hosts *may* be impaired (container id and start time): the lab map then runs one helper
  per such host and none for the others, so it stays fast.  An entry whose container was
  recreated or restarted (a new namespace, nothing impaired) is dropped without a helper.
* **Leaving nothing behind.** ``make down``/``make clean`` remove the containers (their
  namespaces go with them) and this lab's state file; ``make lab`` on a running lab heals
  every host it did not recreate.

Standard library only; the functions take container ids, so tests pass their own lab's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from socklab.i18n import _

ROOT = Path(__file__).resolve().parent.parent

STATE_DIR = ROOT / ".lab" / "impair"
DEV = "eth0"                # a lab host's one interface on the lab network
IFB = "socklab-ifb"         # where incoming packets are shaped (one per namespace)
TABLE = "socklab_impair"    # the nftables table (family inet) of the random loss
MOD = 10000                 # loss resolution: 0.01 %
SETTINGS = ("HOST", "LOSS", "RATE", "DELAY", "JITTER")
HELPER_TIMEOUT = 60

# exit statuses of the helper script (anything else: a step failed, its stderr says which)
NO_NETEM = 3
NO_INGRESS_SHAPING = 4


class ImpairError(Exception):
    """A one-line message for the user; exit status 1."""


# --------------------------------------------------------------------------- values

@dataclass(frozen=True)
class Impairment:
    """The condition of one host's link, the same in both directions."""
    loss: float = 0.0       # percent of packets dropped, each way
    rate: int = 0           # bits per second, each way; 0: no limit
    delay: float = 0.0      # milliseconds added, each way
    jitter: float = 0.0     # milliseconds, +/- around the delay

    def __bool__(self) -> bool:
        return bool(self.loss or self.rate or self.delay)

    def describe(self) -> str:
        """``loss 30%, rate 1mbit, delay 200ms ± 50ms`` (protocol-like; not translated)."""
        parts = []
        if self.loss:
            parts.append(f"loss {_number(self.loss)}%")
        if self.rate:
            parts.append(f"rate {format_rate(self.rate)}")
        if self.delay:
            parts.append(f"delay {_number(self.delay)}ms"
                         + (f" ± {_number(self.jitter)}ms" if self.jitter else ""))
        return ", ".join(parts) or "none"


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def parse_loss(text: str) -> float:
    """``30%``, ``30`` or ``0.5%`` -> percent (0 to 100)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*", text or "")
    value = float(m.group(1)) if m else -1.0
    if not 0 <= value <= 100:
        raise ImpairError(_("LOSS={value}: give a percentage from 0 to 100, e.g. LOSS=30%").format(value=text))
    return round(value, 2)


_RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9,
               "bps": 8, "kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9}
MIN_RATE, MAX_RATE = 8_000, 10 * 10**9


def parse_rate(text: str) -> int:
    """tc's units: ``1mbit``, ``512kbit``, ``100kbps`` (kilobytes/s) -> bits per second."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*", (text or "").lower())
    if m and m.group(2) in _RATE_UNITS:
        value = round(float(m.group(1)) * _RATE_UNITS[m.group(2)])
        if MIN_RATE <= value <= MAX_RATE:
            return value
    raise ImpairError(_("RATE={value}: give a rate from 8kbit to 10gbit with its unit, "
                        "e.g. RATE=1mbit or RATE=512kbit").format(value=text))


def format_rate(bits: int) -> str:
    """bits per second -> tc's spelling: 1000000 -> ``1mbit``, 1500000 -> ``1.5mbit``."""
    for unit, size in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits >= size:
            return f"{_number(bits / size)}{unit}"
    return f"{bits}bit"


def parse_time(name: str, text: str) -> float:
    """``200ms``, ``1s``, ``1.5s`` or ``200`` (milliseconds) -> milliseconds, up to 60 s."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*", (text or "").lower())
    if m:
        value = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
        if 0 <= value <= 60_000:
            return round(value, 2)
    raise ImpairError(_("{name}={value}: give a time from 0 to 60s, e.g. {name}=200ms").format(
        name=name, value=text))


def from_settings(settings: dict[str, str]) -> Impairment:
    """LOSS, RATE, DELAY, JITTER (empty or absent: none) -> an Impairment; bad ones: ImpairError."""
    loss = parse_loss(settings["LOSS"]) if settings.get("LOSS") else 0.0
    rate = parse_rate(settings["RATE"]) if settings.get("RATE") else 0
    delay = parse_time("DELAY", settings["DELAY"]) if settings.get("DELAY") else 0.0
    jitter = parse_time("JITTER", settings["JITTER"]) if settings.get("JITTER") else 0.0
    if jitter and not delay:
        raise ImpairError(_("JITTER={value} varies a delay: give DELAY= too, e.g. DELAY=200ms JITTER=50ms").format(
            value=settings["JITTER"]))
    if jitter > delay:
        raise ImpairError(_("JITTER={jitter} is more than DELAY={delay}: a packet cannot leave before it was sent").format(
            jitter=settings["JITTER"], delay=settings["DELAY"]))
    return Impairment(loss, rate, delay, jitter)


# --------------------------------------------------------------------------- commands

def nft_ruleset(loss: float) -> str:
    """The nftables table that drops *loss* percent of the packets in and out (not on lo)."""
    threshold = round(loss * MOD / 100)
    rule = f"numgen random mod {MOD} < {threshold} counter drop"
    return (f"table inet {TABLE} {{\n"
            f"  chain input {{ type filter hook input priority -10; policy accept; "
            f"iifname != \"lo\" {rule}; }}\n"
            f"  chain output {{ type filter hook output priority -10; policy accept; "
            f"oifname != \"lo\" {rule}; }}\n"
            f"}}\n")


def tbf(dev: str, rate: int, handle: str = "1:") -> list[str]:
    """A token bucket of *rate* bits/s on *dev*'s egress.

    The bucket holds 1/100 s of traffic but at least 4 KiB (more than one full-size frame,
    or big packets could never pass); the queue in front of it holds 0.5 s (a slow link
    queues, it does not drop at once).
    """
    burst = max(rate // 8 // 100, 4096)
    return ["tc", "qdisc", "add", "dev", dev, "root", "handle", handle, "tbf",
            "rate", f"{rate}bit", "burst", str(burst), "latency", "500ms"]


def netem(dev: str, delay: float, jitter: float, parent: str | None) -> list[str]:
    where = ["parent", parent, "handle", "10:"] if parent else ["root", "handle", "1:"]
    return (["tc", "qdisc", "add", "dev", dev, *where, "netem", "delay", f"{_number(delay)}ms"]
            + ([f"{_number(jitter)}ms"] if jitter else []))


def shaping_commands(dev: str, imp: Impairment) -> list[list[str]]:
    """The qdiscs of one direction: a token bucket and/or netem on *dev*'s egress."""
    cmds = []
    if imp.rate:
        cmds.append(tbf(dev, imp.rate))
    if imp.delay:
        cmds.append(netem(dev, imp.delay, imp.jitter, "1:1" if imp.rate else None))
    return cmds


def heal_commands() -> list[list[str]]:
    """Everything impair may have added; each may fail (was not there), none matters."""
    return [["nft", "delete", "table", "inet", TABLE],
            ["tc", "qdisc", "del", "dev", DEV, "root"],
            ["tc", "qdisc", "del", "dev", DEV, "ingress"],
            ["ip", "link", "del", IFB]]


def _sh(cmd: list[str]) -> str:
    return shlex.join(cmd)


def heal_script() -> str:
    return "\n".join(_sh(c) + " 2>/dev/null" for c in heal_commands()) + "\ntrue\n"


def apply_script(imp: Impairment) -> str:
    """The helper's shell script: check the kernel, heal, apply *imp*; on any failure heal again.

    Exit status 0; or NO_NETEM (checked first: what was in effect stays); or
    NO_INGRESS_SHAPING or 1 with the failed command on stderr (then nothing is left applied).
    """
    lines = ["set -u",
             "heal() {", *("  " + _sh(c) + " 2>/dev/null" for c in heal_commands()), "  true", "}",
             'step() { out=$("$@" 2>&1) || { echo "$* : $out" >&2; heal; exit 1; }; }',
             f"ip link show dev {DEV} >/dev/null || exit 1"]
    if imp.delay:   # the kernel's netem, tried on a throw-away ifb before anything is touched
        lines += ["if ip link add socklab-probe type ifb 2>/dev/null; then",
                  "  tc qdisc add dev socklab-probe root netem delay 1ms 2>/dev/null; probe=$?",
                  "  ip link del socklab-probe 2>/dev/null",
                  f"  [ $probe -eq 0 ] || exit {NO_NETEM}",
                  f"else exit {NO_INGRESS_SHAPING}; fi"]
    lines += ["heal"]
    if imp.loss:    # the here-document is the standard input of nft, inside step()
        lines += ["step nft -f - <<'SOCKLAB_NFT'", nft_ruleset(imp.loss).rstrip("\n"), "SOCKLAB_NFT"]
    if imp.rate or imp.delay:
        lines += [_sh(["step", *c]) for c in shaping_commands(DEV, imp)]
        # incoming: redirected to an ifb device and shaped on its egress alike
        lines += [f"if ip link add {IFB} type ifb 2>/dev/null; then",
                  "  " + _sh(["step", "ip", "link", "set", IFB, "up"]),
                  "  " + _sh(["step", "tc", "qdisc", "add", "dev", DEV, "handle", "ffff:", "ingress"]),
                  *("  " + _sh(["step", *c]) for c in shaping_commands(IFB, imp)),
                  "  " + _sh(["step", "tc", "filter", "add", "dev", DEV, "parent", "ffff:", "protocol", "all",
                              "u32", "match", "u32", "0", "0",
                              "action", "mirred", "egress", "redirect", "dev", IFB])]
        if imp.rate and not imp.delay:
            # no ifb: police incoming packets instead (drops what is over the rate)
            burst = max(imp.rate // 8 // 100, 4096)
            police = ["tc", "filter", "add", "dev", DEV, "parent", "ffff:", "protocol", "all", "u32",
                      "match", "u32", "0", "0", "police", "rate", f"{imp.rate}bit", "burst", str(burst),
                      "drop", "flowid", ":1"]
            lines += ["else",
                      "  " + _sh(["step", "tc", "qdisc", "add", "dev", DEV, "handle", "ffff:", "ingress"]),
                      "  " + _sh(police) + f" 2>/dev/null || {{ heal; exit {NO_INGRESS_SHAPING}; }}"]
        else:
            lines += ["else", f"  heal; exit {NO_INGRESS_SHAPING}"]
        lines += ["fi"]
    return "\n".join(lines) + "\n"


READBACK_MARK = "--- socklab-impair "


def readback_script() -> str:
    """Print what is in effect: the nft table and the qdiscs, as JSON, between marks."""
    parts = [("nft", ["nft", "-j", "list", "table", "inet", TABLE]),
             ("egress", ["tc", "-j", "qdisc", "show", "dev", DEV]),
             ("ifb", ["tc", "-j", "qdisc", "show", "dev", IFB]),
             ("ingress", ["tc", "-j", "filter", "show", "dev", DEV, "parent", "ffff:"])]
    return "".join(f"echo '{READBACK_MARK}{name}'\n{_sh(cmd)} 2>/dev/null\n" for name, cmd in parts)


@dataclass(frozen=True)
class Status:
    """What the namespace says: the impairment in effect and the packets the loss dropped."""
    impairment: Impairment
    dropped_in: int = 0
    dropped_out: int = 0
    incoming_shaped: bool = True    # rate/delay reach incoming packets too (ifb or policer)

    def describe(self) -> str:
        text = self.impairment.describe()
        return text if self.incoming_shaped else text + " (" + _("outgoing packets only") + ")"


def _json(text: str):
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _seconds_to_ms(value) -> float:
    return round(float(value) * 1000, 2) if isinstance(value, (int, float)) else 0.0


def _qdisc_parts(qdiscs) -> tuple[int, float, float]:
    """(rate bits/s, delay ms, jitter ms) of our tbf/netem qdiscs in a ``tc -j qdisc show``."""
    rate, delay, jitter = 0, 0.0, 0.0
    for q in qdiscs or []:
        opts = q.get("options") or {}
        if q.get("kind") == "tbf" and opts.get("rate"):
            rate = int(opts["rate"]) * 8
        elif q.get("kind") == "netem":
            d = opts.get("delay")
            if isinstance(d, dict):
                delay, jitter = _seconds_to_ms(d.get("delay")), _seconds_to_ms(d.get("jitter"))
            else:
                delay = _seconds_to_ms(d)
    return rate, delay, jitter


def parse_readback(text: str) -> Status:
    """The helper's readback output -> a Status (nothing there: an empty Impairment)."""
    sections: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if line.startswith(READBACK_MARK):
            name = line[len(READBACK_MARK):].strip()
            sections[name] = ""
        elif name:
            sections[name] += line + "\n"
    loss, dropped = 0.0, {"input": 0, "output": 0}
    for item in (_json(sections.get("nft", "")) or {}).get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        for expr in rule.get("expr", []):
            match = expr.get("match") or {}
            gen = (match.get("left") or {}).get("numgen") if isinstance(match.get("left"), dict) else None
            if gen and match.get("op") == "<":
                loss = round(float(match["right"]) * 100 / gen["mod"], 2)
            if "counter" in expr and rule.get("chain") in dropped:
                dropped[rule["chain"]] = int(expr["counter"].get("packets", 0))
    rate, delay, jitter = _qdisc_parts(_json(sections.get("egress", "")))
    in_rate, in_delay, _j = _qdisc_parts(_json(sections.get("ifb", "")))
    filters = _json(sections.get("ingress", "")) or []
    policed = any(a.get("kind") == "police" for f in filters for a in (f.get("options") or {}).get("actions", []))
    redirected = any(a.get("kind") == "mirred" for f in filters for a in (f.get("options") or {}).get("actions", []))
    incoming = (not rate or (redirected and in_rate == rate) or policed) and \
               (not delay or (redirected and in_delay == delay))
    return Status(Impairment(loss, rate, delay, jitter), dropped["input"], dropped["output"], incoming)


# --------------------------------------------------------------------------- the helper

def helper_argv(container_id: str, image: str, script: str) -> list[str]:
    """A short-lived container in *container_id*'s network namespace with NET_ADMIN only."""
    return ["docker", "run", "--rm", "--network", f"container:{container_id}",
            "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "-u", "0",
            "--security-opt", "no-new-privileges:true", "--read-only", "--pids-limit", "64",
            "--label", f"socklab.impair-helper={container_id}", "--entrypoint", "sh", image, "-c", script]


def run_helper(container_id: str, image: str, script: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(helper_argv(container_id, image, script), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=HELPER_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ImpairError(_("the helper container did not finish within {seconds} s").format(
            seconds=HELPER_TIMEOUT)) from None


def apply(container_id: str, image: str, imp: Impairment) -> None:
    """Make *container_id*'s link *imp* (replacing what was there); ImpairError if it cannot."""
    if not imp:
        heal(container_id, image)
        return
    res = run_helper(container_id, image, apply_script(imp))
    if res.returncode == NO_NETEM:
        raise ImpairError(_("this kernel cannot delay packets (it has no netem qdisc): "
                            "nothing was changed; LOSS= and RATE= work without it"))
    if res.returncode == NO_INGRESS_SHAPING:
        raise ImpairError(_("this kernel cannot shape incoming packets (no ifb device, no policer): "
                            "nothing was applied"))
    if res.returncode != 0:
        detail = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1]
        raise ImpairError(_("could not impair the link, so it is left unimpaired: {detail}").format(detail=detail))


def heal(container_id: str, image: str) -> None:
    res = run_helper(container_id, image, heal_script())
    if res.returncode != 0:
        detail = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1]
        raise ImpairError(_("could not heal the link: {detail}").format(detail=detail))


def read(container_id: str, image: str) -> Status:
    """What is in effect in *container_id*'s namespace, read from the kernel."""
    res = run_helper(container_id, image, readback_script())
    if res.returncode != 0:
        detail = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1]
        raise ImpairError(_("could not read the link's condition: {detail}").format(detail=detail))
    return parse_readback(res.stdout)


def heal_all(container_ids: list[str], image: str) -> None:
    """Heal many hosts at once (one helper each, side by side)."""
    if not container_ids:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(container_ids))) as pool:
        for future in [pool.submit(heal, cid, image) for cid in container_ids]:
            future.result()


# --------------------------------------------------------------------------- which hosts may be

def service_of(container: dict) -> str:
    """A container's host name: compose's service label, or the test lab's."""
    labels = container["Config"]["Labels"] or {}
    return labels.get("com.docker.compose.service") or labels.get("socklab.service") or container["Name"].lstrip("/")


def state_file(lab: str, state_dir: Path = STATE_DIR) -> Path:
    return state_dir / f"{lab}.json"


def load_state(lab: str, state_dir: Path = STATE_DIR) -> dict[str, dict]:
    try:
        data = json.loads(state_file(lab, state_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(lab: str, state: dict[str, dict], state_dir: Path = STATE_DIR) -> None:
    path = state_file(lab, state_dir)
    if not state:
        forget(lab, state_dir)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def forget(lab: str, state_dir: Path = STATE_DIR) -> None:
    """Drop this lab's state file (make down, make clean, make lab)."""
    try:
        state_file(lab, state_dir).unlink()
    except FileNotFoundError:
        pass


def _same(container: dict, entry: dict) -> bool:
    """Still the container (and the start, so the namespace) that was impaired?"""
    return (container["Id"] == entry.get("id") and container["State"].get("Running")
            and container["State"].get("StartedAt") == entry.get("started"))


def in_effect(lab: str, running: list[dict], image: str, state_dir: Path = STATE_DIR) -> dict[str, Status]:
    """host -> Status, for every impaired host: read back from each host the state file names.

    A host not in the state file costs nothing; one in it whose container is gone or was
    restarted since (a new namespace) is dropped without a helper; the others get one helper
    run each, side by side, and stay in the file only while something is in effect.
    """
    state = load_state(lab, state_dir)
    if not state:
        return {}
    by_host = {service_of(c): c for c in running}
    candidates = {h: by_host[h] for h, e in state.items() if h in by_host and _same(by_host[h], e)}
    found: dict[str, Status] = {}
    unread: set[str] = set()        # the helper failed: not shown, but still remembered
    if candidates:
        with ThreadPoolExecutor(max_workers=min(8, len(candidates))) as pool:
            futures = {h: pool.submit(read, c["Id"], image) for h, c in candidates.items()}
            for host, future in futures.items():
                try:
                    status = future.result()
                except ImpairError:
                    unread.add(host)
                    continue
                if status.impairment:
                    found[host] = status
    kept = {h: e for h, e in state.items() if h in found or h in unread}
    if kept != state:
        save_state(lab, kept, state_dir)
    return found


def remember(lab: str, host: str, container: dict, imp: Impairment, state_dir: Path = STATE_DIR) -> None:
    state = load_state(lab, state_dir)
    if imp:
        state[host] = {"id": container["Id"], "started": container["State"].get("StartedAt"),
                       "set": imp.describe()}
    else:
        state.pop(host, None)
    save_state(lab, state, state_dir)


def heal_kept(lab: str, before: list[dict], after: list[dict], image: str, state_dir: Path = STATE_DIR) -> None:
    """``make lab`` on a running lab: heal every host whose container (so namespace) it kept.

    A container compose created or restarted has a new namespace with nothing in it; every
    one it left running as it was is healed explicitly (state file or not), side by side.
    """
    was = {c["Id"]: c["State"].get("StartedAt") for c in before if c["State"].get("Running")}
    heal_all([c["Id"] for c in after if c["State"].get("Running") and was.get(c["Id"]) == c["State"].get("StartedAt")],
             image)
    forget(lab, state_dir)


def map_line(status: Status) -> str:
    """The lab map's mark under an impaired host."""
    return _("impaired: {what}").format(what=status.describe())


# --------------------------------------------------------------------------- make impair / make heal

def settings_from(args: list[str], environ) -> dict[str, str]:
    """HOST, LOSS, RATE, DELAY, JITTER from the environment (make passes its variables so),
    overridden by ``KEY=VALUE`` arguments (``tools/lab.py impair HOST=ftp RATE=1mbit``)."""
    settings = {key: environ.get(key, "").strip() for key in SETTINGS}
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq or key.upper() not in SETTINGS:
            raise ImpairError(_("{arg}: say HOST=, LOSS=, RATE=, DELAY= or JITTER=, e.g. "
                                "make impair HOST=udp-server LOSS=30%").format(arg=arg))
        settings[key.upper()] = value.strip()
    return settings


def _container_of(host: str, hosts: list[str], running: list[dict], lab: str) -> dict:
    if host not in hosts:
        raise ImpairError(_("HOST={host}: no such host in this lab; the hosts are: {hosts}").format(
            host=host, hosts=", ".join(sorted(hosts))))
    for c in running:
        if service_of(c) == host and c["State"].get("Running"):
            return c
    raise ImpairError(_("host {host} of lab '{lab}' is not running; start the lab with `make lab`.").format(
        host=host, lab=lab))


def _show(lab: str, running: list[dict], image: str, state_dir: Path, only: str | None = None) -> None:
    found = in_effect(lab, running, image, state_dir)
    if only:
        found = {h: s for h, s in found.items() if h == only}
    if not found:
        if only:
            print(_("socklab: {host} is not impaired.").format(host=only))
        else:
            print(_("socklab: no host of lab '{lab}' is impaired "
                    "(e.g. make impair HOST=udp-server LOSS=30%).").format(lab=lab))
        return
    print(_("socklab: impaired hosts of lab '{lab}' (each way; read from the hosts):").format(lab=lab))
    width = max(len(h) for h in found)
    for host, status in sorted(found.items()):
        extra = ""
        if status.impairment.loss:
            extra = "   " + _("(dropped so far: {incoming} in, {outgoing} out)").format(
                incoming=status.dropped_in, outgoing=status.dropped_out)
        print(f"  {host:<{width}}  {status.describe()}{extra}")
    print(_("undo with: make heal HOST=<host>, or make heal for every host"))


def main(verb: str, args: list[str], *, lab: str, hosts: list[str], running: list[dict], image: str,
         state_dir: Path = STATE_DIR, environ=os.environ) -> int:
    """``make impair`` / ``make heal`` for *lab*: its compose hosts and running containers."""
    try:
        settings = settings_from(args, environ)
        host = settings["HOST"]
        wanted = any(settings[k] for k in ("LOSS", "RATE", "DELAY", "JITTER"))
        if verb == "heal":
            if host:
                container = _container_of(host, hosts, running, lab)
                heal(container["Id"], image)
                remember(lab, host, container, Impairment(), state_dir)
                print(_("socklab: {host} healed: no loss, no rate limit, no delay.").format(host=host))
            else:
                heal_all([c["Id"] for c in running if c["State"].get("Running")], image)
                forget(lab, state_dir)
                print(_("socklab: every host of lab '{lab}' healed.").format(lab=lab))
            return 0
        imp = from_settings(settings)
        if not host:
            if wanted:
                raise ImpairError(_("say which host: e.g. make impair HOST=udp-server LOSS=30%"))
            if not running:
                raise ImpairError(_("lab '{lab}' is not running; start it with `make lab`.").format(lab=lab))
            _show(lab, running, image, state_dir)
            return 0
        container = _container_of(host, hosts, running, lab)
        if not wanted:
            _show(lab, running, image, state_dir, only=host)
            return 0
        apply(container["Id"], image, imp)
        remember(lab, host, container, imp, state_dir)
        if not imp:                 # LOSS=0% and nothing else: that is healing
            print(_("socklab: {host} healed: no loss, no rate limit, no delay.").format(host=host))
            return 0
        print(_("socklab: {host} impaired, each way: {what}. Undo: make heal HOST={host}").format(
            host=host, what=imp.describe()))
        return 0
    except ImpairError as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return 1
