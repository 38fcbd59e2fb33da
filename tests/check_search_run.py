#!/usr/bin/python3
"""Checks on the outputs of `diffautoml search` runs, for
tests/check_search_run.sh (which runs the engine).  Standard library only.

usage: check_search_run.py COMMAND ARGS...
  outputs RUN_DIR        every output file exists and parses; the loss falls
  eval RUN_DIR STDOUT    `diffautoml eval RUN_DIR`'s output matches summary.json
  same RUN_A RUN_B       two runs of one config produced the same results
  position RUN_DIR WHAT  checkpoint.safetensors is at the end of search
                         epoch N (WHAT = end:N) or inside search epoch N+1
                         (WHAT = mid:N)
  nan RUN_DIR STDERR     a run stopped by a NaN loss in its second epoch
  snapshot DIR FILE      hashes of DIR's files into FILE
  unchanged DIR FILE     DIR's files are still those of the snapshot
  estimate STDOUT BATCH  'exceeds' or 'fits': the memory line of a search
Exits 1 with 'FAIL: ...' on the first failed check.
"""
import hashlib
import json
import math
import os
import re
import struct
import sys

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
              "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1,
              "BOOL": 1}
STEP_KEYS = {"type", "phase", "epoch", "step", "loss", "train_acc", "val_loss",
             "val_acc", "lr", "weight_decay", "momentum", "images_per_s"}
EPOCH_KEYS = {"type", "phase", "epoch", "step", "train_loss", "train_acc",
              "arch", "frozen", "hpo"}
TIMING_KEYS = {"images_per_s"}                       # metrics.jsonl
SUMMARY_TIMING_KEYS = {"search_time_s"}              # summary.json
OUTPUTS = ["config.resolved.cfg", "metrics.jsonl", "genotype.json",
           "normal.dot", "reduce.dot", "model.safetensors", "summary.json",
           "checkpoint.safetensors"]
# checkpoint.c: the run.position vector
POS_PHASE, POS_EPOCH, POS_SEARCH_EPOCHS, POS_STEP, POS_STEP_IN_EPOCH = range(5)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def strict_json(text, where):
    """JSON without NaN / Infinity (which are not JSON)."""
    def bad(name):
        raise Fail("%s: %s is not JSON" % (where, name))
    try:
        return json.loads(text, parse_constant=bad)
    except ValueError as e:
        raise Fail("%s: not JSON: %s" % (where, e))


def load_json(path):
    check(os.path.isfile(path), "%s: missing" % path)
    with open(path, encoding="utf-8") as f:
        return strict_json(f.read(), path)


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and \
        math.isfinite(x)


def read_safetensors(path):
    """(header without __metadata__, metadata, {name: bytes}) after checking
    the layout: 8-byte little-endian header length, a JSON object, every
    tensor's data_offsets inside the data section and matching its dtype
    and shape, tensors neither overlapping nor leaving holes."""
    check(os.path.isfile(path), "%s: missing" % path)
    with open(path, "rb") as f:
        blob = f.read()
    check(len(blob) >= 8, "%s: %d bytes, no header length" % (path, len(blob)))
    (n,) = struct.unpack("<Q", blob[:8])
    check(8 + n <= len(blob), "%s: header length %d runs past the end (%d)"
          % (path, n, len(blob)))
    try:
        head = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Fail("%s: header is not JSON: %s" % (path, e))
    check(isinstance(head, dict), "%s: header is not an object" % path)
    meta = head.pop("__metadata__", {})
    check(isinstance(meta, dict) and
          all(isinstance(v, str) for v in meta.values()),
          "%s: __metadata__ is not a string map" % path)
    data = blob[8 + n:]
    spans, tensors = [], {}
    for name, t in head.items():
        where = "%s: tensor %s" % (path, name)
        check(isinstance(t, dict) and t.get("dtype") in DTYPE_SIZE,
              "%s: bad dtype" % where)
        shape, off = t.get("shape"), t.get("data_offsets")
        check(isinstance(shape, list) and
              all(isinstance(d, int) and d >= 0 for d in shape),
              "%s: bad shape" % where)
        check(isinstance(off, list) and len(off) == 2 and
              all(isinstance(o, int) for o in off) and
              0 <= off[0] <= off[1] <= len(data),
              "%s: data_offsets %s outside the %d data bytes"
              % (where, off, len(data)))
        size = DTYPE_SIZE[t["dtype"]]
        for d in shape:
            size *= d
        check(off[1] - off[0] == size, "%s: %d bytes for shape %s %s"
              % (where, off[1] - off[0], t["dtype"], shape))
        spans.append((off[0], off[1], name))
        tensors[name] = data[off[0]:off[1]]
    spans.sort()
    end = 0
    for b, e, name in spans:
        check(b == end, "%s: tensor %s starts at %d, not %d (overlap or hole)"
              % (path, name, b, end))
        end = e
    check(end == len(data), "%s: %d data bytes, the tensors cover %d"
          % (path, len(data), end))
    return head, meta, tensors


def read_metrics(run):
    path = os.path.join(run, "metrics.jsonl")
    check(os.path.isfile(path), "%s: missing" % path)
    lines = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    check(text.endswith("\n"), "%s: the last line is unfinished" % path)
    for i, line in enumerate(text.splitlines(), 1):
        where = "%s:%d" % (path, i)
        obj = strict_json(line, where)
        check(isinstance(obj, dict), "%s: not an object" % where)
        kind = obj.get("type")
        if kind == "step":
            check(STEP_KEYS <= obj.keys(), "%s: step line lacks %s"
                  % (where, sorted(STEP_KEYS - obj.keys())))
            for k in ("loss", "train_acc", "lr", "weight_decay", "momentum"):
                check(finite(obj[k]), "%s: %s = %r is not finite"
                      % (where, k, obj[k]))
        elif kind == "epoch":
            check(EPOCH_KEYS <= obj.keys(), "%s: epoch line lacks %s"
                  % (where, sorted(EPOCH_KEYS - obj.keys())))
            check(finite(obj["train_loss"]), "%s: train_loss = %r"
                  % (where, obj["train_loss"]))
        else:
            raise Fail("%s: type %r" % (where, kind))
        lines.append(obj)
    return lines


def check_genotype(g, where):
    check(isinstance(g, dict), "%s: not an object" % where)
    for k in ("nodes", "normal", "reduce"):
        check(k in g, "%s: no %s" % (where, k))
    check(isinstance(g["nodes"], int) and g["nodes"] >= 1,
          "%s: nodes = %r" % (where, g["nodes"]))
    for cell in ("normal", "reduce"):
        c = g[cell]
        check(isinstance(c, list) and len(c) == g["nodes"],
              "%s: %s has not %d nodes" % (where, cell, g["nodes"]))
        for i, node in enumerate(c):
            check(isinstance(node, list) and node and all(
                isinstance(e, dict) and isinstance(e.get("op"), str) and
                isinstance(e.get("from"), int) and 0 <= e["from"] < i + 2
                for e in node), "%s: %s node %d: %r" % (where, cell, i, node))


def genotype_ops(g):
    return {e["op"] for cell in ("normal", "reduce") for node in g[cell]
            for e in node}


def cmd_outputs(run):
    for name in OUTPUTS:
        path = os.path.join(run, name)
        check(os.path.isfile(path) and os.path.getsize(path) > 0,
              "%s: missing or empty" % path)
    with open(os.path.join(run, "config.resolved.cfg"), encoding="utf-8") as f:
        cfg = f.read()
    check(re.search(r"^output_dir = ", cfg, re.M),
          "config.resolved.cfg has no output_dir")

    metrics = read_metrics(run)
    steps = [m for m in metrics if m["type"] == "step"]
    epochs = [m for m in metrics if m["type"] == "epoch"]
    check(len(steps) >= 20, "only %d step lines" % len(steps))
    check([m["step"] for m in steps] == list(range(1, len(steps) + 1)),
          "step numbers are not 1..%d" % len(steps))
    check(len(epochs) >= 2 and epochs[-1]["phase"] == "final",
          "epoch lines: %s" % [(e["phase"], e["epoch"]) for e in epochs])
    check(epochs[-1]["step"] == len(steps), "the last epoch line is not last")

    # The loss falls: the mean step loss of the last epoch is below that of
    # the first 10 steps, and the last epoch's train_loss below the first's.
    last = [m["loss"] for m in steps if m["phase"] == epochs[-1]["phase"] and
            m["epoch"] == epochs[-1]["epoch"]]
    first10 = sum(m["loss"] for m in steps[:10]) / 10
    mean_last = sum(last) / len(last)
    print("loss: first 10 steps %.4f, last epoch %.4f; epoch train_loss %s"
          % (first10, mean_last, ["%.4f" % e["train_loss"] for e in epochs]))
    check(mean_last < first10, "the loss does not fall: first 10 steps %.4f, "
          "last epoch %.4f" % (first10, mean_last))
    check(epochs[-1]["train_loss"] < epochs[0]["train_loss"],
          "train_loss of the last epoch %.4f is not below the first's %.4f"
          % (epochs[-1]["train_loss"], epochs[0]["train_loss"]))

    geno = load_json(os.path.join(run, "genotype.json"))
    check_genotype(geno, "genotype.json")
    for cell in ("normal", "reduce"):
        with open(os.path.join(run, cell + ".dot"), encoding="utf-8") as f:
            dot = f.read()
        check(dot.startswith("digraph"), "%s.dot does not start with digraph"
              % cell)
        check(dot.rstrip().endswith("}"), "%s.dot is not closed" % cell)

    summary = load_json(os.path.join(run, "summary.json"))
    acc = summary.get("test_accuracy")
    check(finite(acc) and 0 <= acc <= 1, "summary.json: test_accuracy = %r"
          % acc)
    for k in ("test_loss", "parameters_millions", "flops_per_image"):
        check(finite(summary.get(k)), "summary.json: %s = %r"
              % (k, summary.get(k)))
    check(summary.get("steps") == len(steps), "summary.json: steps %r, "
          "metrics.jsonl has %d" % (summary.get("steps"), len(steps)))

    path = os.path.join(run, "model.safetensors")
    head, meta, tensors = read_safetensors(path)
    for k in ("format", "genotype", "op_plugins"):
        check(k in meta, "%s: __metadata__ has no %s" % (path, k))
    check(meta["format"] == "diffautoml-model-1", "%s: format %r"
          % (path, meta["format"]))
    mgeno = strict_json(meta["genotype"], path + " metadata genotype")
    check(mgeno == geno, "%s: the genotype metadata differs from "
          "genotype.json" % path)
    plugins = strict_json(meta["op_plugins"], path + " metadata op_plugins")
    check(isinstance(plugins, dict) and genotype_ops(geno) <= plugins.keys(),
          "%s: op_plugins %r lacks ops of the genotype %s"
          % (path, plugins, sorted(genotype_ops(geno))))
    check(len(tensors) > 2 and "input.mean" in tensors and
          "input.std" in tensors, "%s: %d tensors, no input.mean/std"
          % (path, len(tensors)))
    for name, t in head.items():
        if t["dtype"] == "F32":
            vals = struct.unpack("<%df" % (len(tensors[name]) // 4),
                                 tensors[name])
            check(all(math.isfinite(v) for v in vals),
                  "%s: tensor %s is not finite" % (path, name))

    ckpt = os.path.join(run, "checkpoint.safetensors")
    _, cmeta, _ = read_safetensors(ckpt)
    check(cmeta.get("format") == "diffautoml-checkpoint-1",
          "%s: format %r" % (ckpt, cmeta.get("format")))
    print("ok: %d steps, %d epochs, %d model tensors, test_accuracy %.4f"
          % (len(steps), len(epochs), len(tensors), acc))


def cmd_eval(run, out):
    summary = load_json(os.path.join(run, "summary.json"))
    with open(out, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^test_accuracy ([0-9.eE+-]+)$", text, re.M)
    check(m, "eval printed no test_accuracy line:\n" + text)
    got, want = float(m.group(1)), summary["test_accuracy"]
    check(abs(got - want) <= 1e-6, "eval: test_accuracy %r, summary.json %r"
          % (got, want))
    m = re.search(r"^test_images ([0-9]+)$", text, re.M)
    check(m and int(m.group(1)) == summary["test_images"],
          "eval: test_images differs from summary.json's %r"
          % summary["test_images"])
    print("ok: eval test_accuracy %s = summary.json's %r" % (got, want))


def without(obj, keys):
    return {k: v for k, v in obj.items() if k not in keys}


def cmd_same(a, b):
    ga = load_json(os.path.join(a, "genotype.json"))
    gb = load_json(os.path.join(b, "genotype.json"))
    check(ga == gb, "genotype.json differs:\n%s\n%s" % (ga, gb))

    sa = load_json(os.path.join(a, "summary.json"))
    sb = load_json(os.path.join(b, "summary.json"))
    check(sa["test_accuracy"] == sb["test_accuracy"],
          "test_accuracy %r vs %r" % (sa["test_accuracy"], sb["test_accuracy"]))
    check(without(sa, SUMMARY_TIMING_KEYS) == without(sb, SUMMARY_TIMING_KEYS),
          "summary.json differs:\n%s\n%s" % (sa, sb))

    ma, mb = read_metrics(a), read_metrics(b)
    for i, (x, y) in enumerate(zip(ma, mb), 1):
        check(without(x, TIMING_KEYS) == without(y, TIMING_KEYS),
              "metrics.jsonl line %d differs:\n%s\n%s" % (i, x, y))
    check(len(ma) == len(mb), "metrics.jsonl: %d lines vs %d"
          % (len(ma), len(mb)))

    path_a = os.path.join(a, "model.safetensors")
    ha, meta_a, ta = read_safetensors(path_a)
    hb, meta_b, tb = read_safetensors(os.path.join(b, "model.safetensors"))
    check(ta.keys() == tb.keys(), "model tensors differ: %s"
          % sorted(ta.keys() ^ tb.keys()))
    for name in sorted(ta):
        check(ha[name] == hb[name], "model tensor %s: %s vs %s"
              % (name, ha[name], hb[name]))
        check(ta[name] == tb[name], "model tensor %s: different bytes" % name)
    check(meta_a == meta_b, "model metadata differs")
    print("ok: same genotype, summary, %d metrics lines, %d model tensors"
          % (len(ma), len(ta)))


def position(run):
    path = os.path.join(run, "checkpoint.safetensors")
    head, meta, t = read_safetensors(path)
    check(meta.get("format") == "diffautoml-checkpoint-1", "%s: format %r"
          % (path, meta.get("format")))
    check(head.get("run.position", {}).get("dtype") == "U64",
          "%s: no U64 run.position" % path)
    raw = t["run.position"]
    return struct.unpack("<%dQ" % (len(raw) // 8), raw)


def cmd_position(run, what):
    pos = position(run)
    desc = ("phase %d, epoch %d, search epochs %d, step %d, step in epoch %d"
            % pos[:5])
    kind, n = what.split(":")
    n = int(n)
    check(pos[POS_PHASE] == 0 and pos[POS_SEARCH_EPOCHS] == n and
          pos[POS_EPOCH] == 0 and (pos[POS_STEP_IN_EPOCH] > 0) == (kind == "mid"),
          "the checkpoint is not %s search epoch %d: %s"
          % ("in" if kind == "mid" else "at the end of",
             n + 1 if kind == "mid" else n, desc))
    print("ok: checkpoint at " + desc)


def cmd_nan(run, err):
    with open(err, encoding="utf-8") as f:
        lines = f.read().splitlines()
    check(len(lines) == 1, "stderr is %d lines, want 1" % len(lines))
    line = lines[0]
    m = re.search(r"\bstep ([0-9]+)\b", line)
    check(m and re.search(r"nan", line, re.I) and "checkpoint" in line,
          "stderr does not name the step, NaN and the checkpoint: " + line)
    bad = int(m.group(1))
    metrics = read_metrics(run)  # every loss finite
    steps = [x for x in metrics if x["type"] == "step"]
    ends = [x["step"] for x in metrics if x["type"] == "epoch"]
    check(ends, "no epoch finished before the NaN (step %d)" % bad)
    per_epoch = ends[0]
    check(per_epoch < bad <= 2 * per_epoch,
          "NaN at step %d, not in the second epoch (steps %d..%d): adjust "
          "poison's `after`" % (bad, per_epoch + 1, 2 * per_epoch))
    check(steps and steps[-1]["step"] == bad - 1,
          "metrics.jsonl ends at step %d, the NaN step is %d"
          % (steps[-1]["step"] if steps else 0, bad))
    pos = position(run)
    check(pos[POS_STEP] == per_epoch and pos[POS_STEP_IN_EPOCH] == 0,
          "the checkpoint is not the first epoch's: step %d, step in epoch %d"
          % (pos[POS_STEP], pos[POS_STEP_IN_EPOCH]))
    for name in ("model.safetensors", "summary.json", "genotype.json"):
        check(not os.path.exists(os.path.join(run, name)),
              "%s written by a failed run" % name)
    print("ok: " + line)


def hashes(d):
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def cmd_snapshot(d, out):
    with open(out, "w", encoding="utf-8") as f:
        json.dump(hashes(d), f)


def cmd_unchanged(d, snap):
    with open(snap, encoding="utf-8") as f:
        before = json.load(f)
    now = hashes(d)
    changed = sorted(k for k in before.keys() | now.keys()
                     if before.get(k) != now.get(k))
    check(not changed, "%s: %s changed" % (d, ", ".join(changed)))
    print("ok: nothing in %s changed" % d)


def cmd_estimate(out, batch):
    with open(out, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^memory +([0-9.]+) MiB for batch %s \(device: ([0-9.]+) "
                  r"MiB\)$" % re.escape(batch), text, re.M)
    check(m, "no memory line for batch %s:\n%s" % (batch, text))
    need, have = float(m.group(1)), float(m.group(2))
    print("exceeds" if have > 0 and need > have else "fits")


COMMANDS = {"outputs": (cmd_outputs, 1), "eval": (cmd_eval, 2),
            "same": (cmd_same, 2), "position": (cmd_position, 2),
            "nan": (cmd_nan, 2), "snapshot": (cmd_snapshot, 2),
            "unchanged": (cmd_unchanged, 2), "estimate": (cmd_estimate, 2)}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS or \
            len(argv) - 2 != COMMANDS[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    try:
        COMMANDS[argv[1]][0](*argv[2:])
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
