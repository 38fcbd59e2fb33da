#!/usr/bin/env python3
"""PyTorch parity, the reference half.

Runs tests/parity_dump (our layers and op plugins on the device), then the
same cases through torch with the same inputs and weights, and compares the
outputs and every gradient: max |ours - torch| / max |torch| <= 1e-4 per
tensor.  Exits 77 (meson's "skipped") when torch is not installed.

usage: parity.py PARITY_DUMP PLUGIN_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch is not installed (Debian: python3-torch): skipped")
    sys.exit(77)

TOL = 1e-4


def load(d, entry):
    name, shape = entry
    with open(os.path.join(d, name), "rb") as f:
        data = f.read()
    t = torch.frombuffer(bytearray(data), dtype=torch.float32)
    return t.reshape(shape).double()


def bn(x, gamma=None, beta=None):
    return F.batch_norm(x, None, None, gamma, beta, training=True,
                        momentum=0.1, eps=1e-5)


def sep_stage(x, dw, pw, stride, dilation):
    k = dw.shape[-1]
    pad = dilation * (k - 1) // 2
    y = F.conv2d(F.relu(x), dw, stride=stride, padding=pad,
                 dilation=dilation, groups=x.shape[1])
    return bn(F.conv2d(y, pw))


def op_forward(op, stride, x, w):
    if op.startswith("sep_conv"):
        y = sep_stage(x, w[0], w[1], stride, 1)
        return sep_stage(y, w[2], w[3], 1, 1)
    if op.startswith("dil_conv"):
        return sep_stage(x, w[0], w[1], stride, 2)
    if op == "max_pool_3x3":
        return bn(F.max_pool2d(x, 3, stride, 1))
    if op == "avg_pool_3x3":
        return bn(F.avg_pool2d(x, 3, stride, 1, count_include_pad=False))
    if op == "skip_connect":
        if stride == 1:
            return x
        y = F.relu(x)
        odd = F.pad(y[:, :, 1:, 1:], (0, y.shape[3] % 2, 0, y.shape[2] % 2))
        return bn(torch.cat([F.conv2d(y, w[0], stride=2),
                             F.conv2d(odd, w[1], stride=2)], dim=1))
    raise ValueError(op)


def reference(case, t):
    a, kind = case["args"], case["kind"]
    if kind == "conv2d":
        return F.conv2d(t["x"], t["w"], stride=a["stride"], padding=a["pad"],
                        dilation=a["dilation"], groups=a["groups"])
    if kind == "pool":
        if a["max"]:
            return F.max_pool2d(t["x"], 3, a["stride"], 1)
        return F.avg_pool2d(t["x"], 3, a["stride"], 1,
                            count_include_pad=False)
    if kind == "batchnorm":
        return bn(t["x"], t["gamma"], t["beta"])
    if kind == "xent":
        return F.cross_entropy(t["z"], t["labels"].long(), reduction="none")
    if kind == "op":
        ws = [t["w%d" % i] for i in range(8) if "w%d" % i in t]
        return op_forward(a["op"], a["stride"], t["x"], ws)
    raise ValueError(kind)


def label(case):
    a = case["args"]
    return case["kind"] + "(" + ", ".join("%s=%s" % kv for kv in a.items()) + ")"


def main():
    dump, plugin_dir = sys.argv[1], sys.argv[2]
    worst, failed = 0.0, 0
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([dump, d, plugin_dir], check=True)
        with open(os.path.join(d, "manifest.json")) as f:
            cases = json.load(f)
        for case in cases:
            tensors = {k: load(d, v) for k, v in case["tensors"].items()}
            inputs = {k: v.clone().requires_grad_(k != "labels")
                      for k, v in tensors.items()
                      if k not in ("y", "r") and not k.startswith("grad_")}
            y = reference(case, inputs)
            (y * tensors["r"].reshape(y.shape)).sum().backward()
            pairs = [("y", tensors["y"].reshape(y.shape), y.detach())]
            for k, v in inputs.items():
                if "grad_" + k in tensors and v.grad is not None:
                    pairs.append(("grad_" + k, tensors["grad_" + k], v.grad))
            errs = []
            for name, ours, ref in pairs:
                err = ((ours.reshape(ref.shape) - ref).abs().max() /
                       ref.abs().max().clamp(min=1e-12)).item()
                errs.append("%s %.1e" % (name, err))
                worst = max(worst, err)
                if err > TOL:
                    failed += 1
                    print("FAIL %s: %s relative error %.3e > %g" %
                          (label(case), name, err, TOL))
            print("%-52s %s" % (label(case), "  ".join(errs)))
    print("%d cases, worst relative error %.2e" % (len(cases), worst))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
