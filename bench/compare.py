#!/usr/bin/python3
"""Ours against PyTorch on the same config and the same machine.

For each config, method and kind of step, runs `diffautoml bench step`
and bench/torch_step.py in turn, each kind in its own process on both
sides and its two sides back to back (the order swaps every round, so
neither always runs on a cooler machine), several rounds, then prints a
Markdown table: the median images/s of each, their ratio (ours /
PyTorch), the peak memory of each and its ratio, our dispatches, submits
and waits per step, and the paired ratio: the median over the rounds of
each round's ratio (a kind's two sides run back to back, so a drift of
the machine's speed, which moves both, cancels in it).
docs/BENCHMARKS.md explains the columns and holds the results.

    bench/compare.py [--rounds 3] [--steps 10] [--warmup 2] [--threads N]
                     [--only quickstart,darts] [--methods ista,darts]
                     [-s CONFIG:KEY=VALUE]... [--torch-device cpu|cuda]
                     [--out FILE]

Ours runs on the device $DIFFAUTOML_DEVICE names (else the first GPU,
else lavapipe); PyTorch on --torch-device.  The table's first line names
both.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {  # name: (config file, what it is)
    "quickstart": ("configs/quickstart.cfg", "5 cells, C=8, stem stride 2"),
    "darts": ("configs/fashion_mnist.cfg", "8 cells, C=16 (DARTS default)"),
}
KINDS = {"ista": ["weight", "full"], "darts": ["weight", "arch", "full"]}


def host_cpu():
    """The host's CPU model and widest vector extension, as /proc/cpuinfo
    names them (the ratio depends on both: docs/BENCHMARKS.md, The
    machine)."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                if flags and model != "unknown CPU":
                    break
    except OSError:
        pass
    isa = next((x for x in ("avx512f", "avx2", "avx") if x in flags), None)
    return "%s, %d CPUs%s" % (model, os.cpu_count() or 0,
                              ", " + isa if isa else "")


def run_json(cmd, env):
    """Run cmd; its JSON lines (one per kind), or exit with its error."""
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("compare.py: %s failed (%d): %s" %
                 (" ".join(cmd[:3]), p.returncode, p.stderr.strip()[-400:]))
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def ours(a, cfg, sets, kinds, env):
    cmd = [a.diffautoml, "bench", "step", "--config", cfg, "--json",
           "--steps", str(a.steps), "--warmup", str(a.warmup),
           "--kind", ",".join(kinds)]
    for s in sets:
        cmd += ["-s", s]
    return {r["kind"]: r for r in run_json(cmd, env)}


def theirs(a, resolved, kinds, env):
    out = {}
    for k in kinds:
        cmd = [sys.executable, "bench/torch_step.py", "--config", resolved,
               "--kind", k, "--steps", str(a.steps), "--warmup",
               str(a.warmup), "--threads", str(a.threads),
               "--device", a.torch_device]
        out[k] = run_json(cmd, env)[0]
    return out


def threads_kept(trial):
    """'queue' or 'pool' (or the count) from a row's threads_trial."""
    kept = trial.rsplit(": kept ", 1)[1]
    return {"0 worker threads": "queue",
            "a worker thread per CPU": "pool"}.get(kept, kept)


def measure(a, name, method, env):
    """The table's rows of one config and method, and (our device, torch's
    version, its device)."""
    cfg = CONFIGS[name][0]
    sets = ["nas.method=" + method] + [s.split(":", 1)[1] for s in a.set
                                      if s.split(":", 1)[0] == name]
    kinds = KINDS[method]
    with tempfile.TemporaryDirectory() as tmp:
        resolved = os.path.join(tmp, "resolved.cfg")
        cmd = [a.diffautoml, "bench", "step", "--config", cfg,
               "--resolved", resolved]
        for s in sets:
            cmd += ["-s", s]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        rounds = []
        for r in range(a.rounds):
            # each kind's two sides back to back, each in its own process,
            # the side that goes first alternating by round
            res = {"ours": {}, "theirs": {}}
            for k in kinds:
                for f in (ours, theirs) if r % 2 == 0 else (theirs, ours):
                    res[f.__name__].update(
                        f(a, cfg, sets, [k], env) if f is ours
                        else f(a, resolved, [k], env))
            rounds.append(res)
            print("  %s %s round %d: %s" % (name, method, r + 1, " ".join(
                "%s %.1f/%.1f" % (k, res["ours"][k]["images_per_s"],
                                  res["theirs"][k]["images_per_s"])
                for k in kinds)), file=sys.stderr, flush=True)
    rows, kept = [], []
    first = rounds[0]["ours"][kinds[0]], rounds[0]["theirs"][kinds[0]]
    device = first[0]["device"]
    if first[0].get("threads_trial"):  # the threads differ by row: below
        device = device.rsplit(", ", 1)[0]
    devices = (device, first[1]["torch"], first[1]["device"])
    for k in kinds:
        o = [r["ours"][k] for r in rounds]
        t = [r["theirs"][k] for r in rounds]
        oi = statistics.median(x["images_per_s"] for x in o)
        ti = statistics.median(x["images_per_s"] for x in t)
        paired = statistics.median(x["images_per_s"] / y["images_per_s"]
                                   for x, y in zip(o, t))
        om = max(x["peak_bytes"] for x in o)
        tm = max(x["peak_bytes"] for x in t)
        trials = [x.get("threads_trial", "") for x in o]
        if all(trials):
            kept.append("%s %s %s: %s" % (name, method, k, ", ".join(
                map(threads_kept, trials))))
        rows.append((name, method, k, o[0]["batch"], oi, ti, oi / ti,
                     om / 2**20, tm / 2**20, om / tm, o[0]["dispatches"],
                     o[0]["submits"], o[0]["waits"], paired))
    return rows, devices, kept


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--only", default="quickstart,darts")
    p.add_argument("--methods", default="ista,darts")
    p.add_argument("-s", "--set", action="append", default=[],
                   help="CONFIG:KEY=VALUE, e.g. darts:train.batch_size=16")
    p.add_argument("--torch-device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--diffautoml", default="build/core/diffautoml")
    p.add_argument("--out", help="also write the table to this file")
    a = p.parse_args()
    env = dict(os.environ)
    env.setdefault("DIFFAUTOML_PLUGIN_PATH", ":".join(
        os.path.join(ROOT, "build/plugins", d)
        for d in ("ops", "augment", "hpo")))
    rows, kept = [], []
    for name in a.only.split(","):
        if name not in CONFIGS:
            sys.exit("compare.py: --only takes %s, got %r" %
                     (",".join(CONFIGS), name))
        for method in a.methods.split(","):
            got, devices, got_kept = measure(a, name, method, env)
            rows += got
            kept += got_kept
    head = ("ours on %s; PyTorch %s on %s, %d threads; host %s\n\n" %
            (devices + (a.threads, host_cpu())) +
            "| config | method | step | batch | ours img/s | PyTorch img/s "
            "| ratio | ours MiB | PyTorch MiB | memory ratio | dispatches "
            "| submits | waits | paired ratio |\n|" + "---|" * 14)
    lines = [head] + [
        "| %s | %s | %s | %d | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f "
        "| %.0f | %.2f | %.2f | %.2f |" % r for r in rows]
    if kept:
        lines.append("\nlavapipe's threads, as `bench step` timed and kept "
                     "them each round (queue: 0 worker threads; pool: one "
                     "per CPU):\n" + "\n".join("- " + x for x in kept))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
