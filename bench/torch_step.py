#!/usr/bin/python3
"""PyTorch twin of the engine's training step, for speed and memory
comparisons with the Vulkan engine on the same resolved config, on the
CPU or (--device cuda) on an NVIDIA GPU.

  /usr/bin/python3 bench/torch_step.py --config RESOLVED.cfg
      --kind {weight,arch,full} [--steps N] [--warmup W] [--threads T]
      [--batch B] [--device cpu|cuda]

prints one JSON line: impl, kind, method, batch, steps, seconds,
images_per_s, peak_bytes, params, torch, threads, device.  Errors: one
line on stderr, exit 2.

Kinds (the reference is core/search_step.c, dam__search_step):
  weight  forward + backward + grad-norm clip + SGD on a training batch,
          with the terms of nas.method (ISTA: its sparse support, DARTS:
          every op softmax-weighted), term weights held constant.
  arch    a first-order DARTS architecture step: forward of a validation
          batch (train.val_batch_size, or the batch size when 0) through
          the all-op softmax-weighted supernet, loss.backward() into the
          alphas alone (the weights frozen: the DARTS reference also
          computes the weights' gradients, which no one reads), Adam on the
          alphas.
          Whatever nas.method says, this is DARTS mode ("method": "darts").
  full    the whole DHA search step: DA sample + apply, normalize,
          forward, mean cross entropy (+ auxiliary), backward (ISTA: also
          into the codes b through the term weights), clip, SGD with the
          current HPO values, validation lookahead at w' (when HPO is on or
          in DARTS mode: DARTS' architecture gradient comes from it; second
          order when nas.darts.order = 2, its two training passes with the
          weights frozen; the weights take g_val only when HPO or the
          second order reads it), HPO dots <g_val, buf> and
          <g_val, w'>, then the host updates: DA policy, Adam on the arch
          codes, the HPO modules.

Data: uniform random images in [0, 1] and random labels (pre-generated,
not timed), normalized with the dataset's mean and std; --data real reads
Fashion-MNIST instead and --log-loss prints each step's loss to stderr
(a sanity check).
"""

import argparse
import contextlib
import gzip
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torch_augment  # noqa: E402
import torch_config  # noqa: E402
import torch_supernet  # noqa: E402

# Fashion-MNIST's training split statistics, as the engine prints them
# (`normalize mean 0.2855 std 0.3528 (of the training split)`).
FMNIST_MEAN, FMNIST_STD = 0.2855, 0.3528
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


class UsageError(Exception):
    pass


# ---- HPO (sdk/diffautoml/hpo.h, plugins/hpo/*.c) ----------------------------

class Hpo:
    def __init__(self, name, p):
        self.name = name
        self.p = {k: float(v) for k, v in p.items()}
        if self.p["init"] == -1:
            lo, hi = self.p["min"], self.p["max"]
            self.value = (np.sqrt(lo * hi) if self.p["log_space"]
                          else 0.5 * (lo + hi))
        else:
            self.value = self.p["init"]
        self.velocity = 0.0

    def apply(self, grad):
        p = self.p
        if not np.isfinite(grad):
            raise RuntimeError("hpo %s: gradient %g" % (self.name, grad))
        v = self.value
        u = np.log(v) if p["log_space"] else v
        d = v * grad if p["log_space"] else grad
        if p["grad_clip"] > 0 and abs(d) > p["grad_clip"]:
            d = p["grad_clip"] if d > 0 else -p["grad_clip"]
        d += p["weight_decay"] * u
        vel = p["momentum"] * self.velocity + d
        u -= p["lr"] * (d + p["momentum"] * vel)
        v = np.exp(u) if p["log_space"] else u
        if not v > p["min"]:
            v, vel = p["min"], min(vel, 0.0)
        elif v >= p["max"]:
            v, vel = p["max"], max(vel, 0.0)
        self.value, self.velocity = float(v), float(vel)


def _dot(xs, ys):
    """The sum over i of <xs[i], ys[i]>, one multiply per tensor pair."""
    return float(torch.stack(
        [t.sum() for t in torch._foreach_mul(xs, ys)]).sum())


# ---- data -----------------------------------------------------------------

def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim
                         ).reshape(dims)


class Batches:
    """Pre-generated batches, cycled (not timed by either side)."""

    def __init__(self, n, size, real, offset=0, pool=4, gen=None,
                 device="cpu"):
        self.i = 0
        self.items = []
        if real:
            x = _idx(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"))
            y = _idx(os.path.join(FMNIST_DIR, "train-labels-idx1-ubyte.gz"))
            for k in range(pool):
                a = offset + k * size
                xb = torch.from_numpy(x[a:a + size].astype(np.float32) / 255.0)
                self.items.append((xb.view(size, 1, 28, 28).contiguous(),
                                   torch.from_numpy(y[a:a + size].astype(
                                       np.int64))))
        else:
            for _ in range(pool):
                self.items.append((torch.rand(size, 1, 28, 28, generator=gen),
                                   torch.randint(0, 10, (size,),
                                                 generator=gen)))

        self.items = [(x.to(device), y.to(device)) for x, y in self.items]

    def next(self):
        b = self.items[self.i % len(self.items)]
        self.i += 1
        return b


# ---- the benchmark ------------------------------------------------------------

class Bench:
    def __init__(self, cfg, kind, batch, real, device="cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        self.kind = kind
        method = torch_config.get(cfg, "nas.method")
        if method not in ("ista", "darts"):
            raise UsageError("nas.method %r: ista or darts" % method)
        self.method = "darts" if kind == "arch" else method
        ds = torch_config.get(cfg, "data.dataset", "fashion_mnist")
        if ds != "fashion_mnist":
            raise UsageError("data.dataset %r: only fashion_mnist (28x28x1, "
                             "10 classes) is implemented" % ds)
        seed = int(cfg.get("seed", 0))
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        tr = cfg["train"]
        self.batch = batch
        self.val_batch = int(tr.get("val_batch_size", 0)) or batch
        self.net, self.ops = torch_supernet.build_supernet(cfg, self.method)
        self.net.to(self.device).train()
        none = self.ops.index("none") if "none" in self.ops else -1
        if self.method == "ista":
            self.arch = torch_supernet.IstaArch(cfg, len(self.ops), none,
                                                device)
        else:
            self.arch = torch_supernet.DartsArch(cfg, len(self.ops), none, gen,
                                                 device)
        nas = cfg["nas"]
        self.arch_opt = torch.optim.Adam(
            self.arch.parameters(), lr=float(nas["arch_lr"]),
            betas=(float(nas["arch_beta1"]), float(nas["arch_beta2"])),
            eps=1e-8, weight_decay=float(nas["arch_wd"]))
        self.darts_order = int(nas["darts"].get("order", 1))
        self.params = [p for p in self.net.parameters() if p.requires_grad]
        # momentum buffers for every trained tensor, zeros, as the engine
        # keeps them (supernet.c add_tensor)
        self.bufs = {p: torch.zeros_like(p) for p in self.params}
        self.lr = float(tr["weight_lr"])
        self.wd = float(tr["weight_decay"])
        self.momentum = float(tr["momentum"])
        self.grad_clip = float(tr["grad_clip"])
        ss = cfg["search_space"]
        self.aux_weight = float(ss.get("auxiliary_weight", 0.4))
        data = cfg.get("data", {})
        mean = data.get("mean") or [FMNIST_MEAN]
        std = data.get("std") or [FMNIST_STD]
        self.norm_mean = float(mean[0])
        # the engine normalizes through an inference BN: (x - m) /
        # sqrt(std^2 + 1e-5)
        self.norm_scale = 1.0 / float(np.sqrt(float(std[0]) ** 2 + 1e-5))
        da = cfg.get("da", {})
        self.da = (torch_augment.DAPolicy(da, seed ^ 0xDA5E)
                   if da.get("enabled", False) else None)
        hpo = cfg.get("hpo", {})
        self.hpo = {}
        if hpo.get("enabled", False):
            for name in hpo.get("modules", []):
                if name not in ("learning_rate", "weight_decay"):
                    raise UsageError("hpo module %s: not implemented" % name)
                self.hpo[name] = Hpo(name, hpo["params"][name])
        self.train_data = Batches(60000, batch, real, 0, gen=gen,
                                  device=device)
        self.val_data = Batches(60000, self.val_batch, real, 50000, gen=gen,
                                device=device)
        self.last_loss = float("nan")

    # -- pieces ---------------------------------------------------------------

    def normalize(self, x):
        return (x - self.norm_mean) * self.norm_scale

    def terms(self, grad):
        """Both cell kinds' (terms, weights); weights detached unless grad."""
        out = [self.arch.terms(0), self.arch.terms(1)]
        if not grad:
            out = [(t, w.detach()) for t, w in out]
        return [out[0][0], out[1][0]], [out[0][1], out[1][1]]

    def loss_of(self, x, y, terms, w, per=False):
        logits, aux = self.net(x, terms, w)
        li = F.cross_entropy(logits, y, reduction="none")
        loss = li.mean()
        if aux is not None:
            loss = loss + self.aux_weight * F.cross_entropy(aux, y)
        return (loss, li) if per else loss

    def zero_grads(self):
        gs = [p.grad for p in self.params if p.grad is not None]
        if gs:
            torch._foreach_zero_(gs)

    @contextlib.contextmanager
    def weights_frozen(self):
        """Inside, the weights take no gradient, so a backward computes the
        arch codes' alone (search_step.c params_take_grads)."""
        for p in self.params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in self.params:
                p.requires_grad_(True)

    def used(self):
        """The trained tensors this step touched (the engine's
        params_collect: fixed tensors plus the ops of the terms)."""
        return [p for p in self.params if p.grad is not None]

    def clip(self, ps):
        torch.nn.utils.clip_grad_norm_(ps, self.grad_clip)

    def sgd(self, ps, lr, wd):
        """buf = mu buf + (g + wd w); w -= lr buf (the engine's sgd.comp,
        = torch.optim.SGD with momentum, dampening 0)."""
        ws = ps
        gs = [p.grad for p in ps]
        bufs = [self.bufs[p] for p in ps]
        with torch.no_grad():
            d = torch._foreach_add(gs, ws, alpha=wd)
            torch._foreach_mul_(bufs, self.momentum)
            torch._foreach_add_(bufs, d)
            torch._foreach_add_(ws, bufs, alpha=-lr)

    def hypers(self):
        lr, wd = self.lr, self.wd
        if "learning_rate" in self.hpo:
            lr = self.hpo["learning_rate"].value
        if "weight_decay" in self.hpo:
            wd = self.hpo["weight_decay"].value
        return lr, wd

    # -- the steps ----------------------------------------------------------

    def step_weight(self):
        x, y = self.train_data.next()
        terms, w = self.terms(False)
        self.zero_grads()
        loss = self.loss_of(self.normalize(x), y, terms, w)
        loss.backward()
        ps = self.used()
        self.clip(ps)
        self.sgd(ps, self.lr, self.wd)
        self.last_loss = float(loss)

    def step_arch(self):
        x, y = self.val_data.next()
        self.arch_opt.zero_grad(set_to_none=False)
        terms, w = self.terms(True)
        with self.weights_frozen():
            loss = self.loss_of(self.normalize(x), y, terms, w)
            loss.backward()
        self.arch_opt.step()
        self.last_loss = float(loss)

    def step_full(self):
        ista = self.method == "ista"
        need_val = bool(self.hpo) or not ista
        x, y = self.train_data.next()
        if self.da is not None:
            pair, mag, sign = (t.to(self.device)
                               for t in self.da.sample(x.shape[0]))
            with torch.no_grad():
                x = self.da.apply(x, pair, mag, sign)
        x = self.normalize(x)
        self.zero_grads()
        self.arch_opt.zero_grad(set_to_none=False)
        # ISTA: the training pass takes the term weights' gradient
        terms, w = self.terms(ista)
        loss, li = self.loss_of(x, y, terms, w, per=True)
        loss.backward()
        ps = self.used()
        self.clip(ps)
        lr, wd = self.hypers()
        pre = ([p.detach().clone() for p in ps]
               if not ista and self.darts_order == 2 else None)
        self.sgd(ps, lr, wd)
        if need_val:
            vx, vy = self.val_data.next()
            # g_val is read by the HPO dots and DARTS' second order
            weight_grads = bool(self.hpo) or pre is not None
            if weight_grads:
                self.zero_grads()
            # DARTS: the architecture gradient comes from the validation
            # pass; ISTA: constant weights there
            vterms, vw = self.terms(not ista)
            with (contextlib.nullcontext() if weight_grads
                  else self.weights_frozen()):
                vlogits, _ = self.net(self.normalize(vx), vterms, vw)
                vloss = F.cross_entropy(vlogits, vy)
                vloss.backward()
            with torch.no_grad():
                (vlogits.argmax(dim=1) == vy).sum()
            gval = [p.grad for p in ps]
            with torch.no_grad():
                dots_buf = _dot(gval, [self.bufs[p] for p in ps]) \
                    if self.hpo else 0.0
                dots_w = _dot(gval, ps) if "weight_decay" in self.hpo \
                    else 0.0
            if pre is not None:
                self.darts_second_order(ps, pre, gval, x, y, lr)
        # host updates: DA policy, arch codes, HPO
        if self.da is not None:
            self.da.step(pair.cpu().numpy(), li.detach().cpu().numpy())
        self.arch_opt.step()
        if "learning_rate" in self.hpo:
            self.hpo["learning_rate"].apply(-dots_buf)
        if "weight_decay" in self.hpo:
            self.hpo["weight_decay"].apply(-lr * (dots_w + lr * dots_buf))
        self.last_loss = float(loss)

    def darts_second_order(self, ps, pre, gval, x, y, xi):
        """alpha.grad -= xi (grad_a L_train(w+) - grad_a L_train(w-)) /
        (2 eps), w+- = w + eps g_val, eps = 0.01 / ||g_val|| (search_step.c
        darts_second_order); w' restored."""
        with torch.no_grad():
            gv = [g.detach().clone() for g in gval]
            norm = float(torch.norm(torch.stack([g.norm() for g in gv])))
            eps = 0.01 / (norm if norm > 0 else 1.0)
            wnow = [p.detach().clone() for p in ps]
            first = [a.grad.clone() for a in self.arch.alpha]
        got = []
        for sgn in (1.0, -1.0):
            with torch.no_grad():
                for p, w0, g in zip(ps, pre, gv):
                    p.copy_(w0).add_(g, alpha=sgn * eps)
            for a in self.arch.alpha:
                a.grad = None
            terms, w = self.terms(True)
            with self.weights_frozen():
                self.loss_of(x, y, terms, w).backward()
            got.append([a.grad.clone() for a in self.arch.alpha])
        with torch.no_grad():
            for p, w0 in zip(ps, wnow):
                p.copy_(w0)
            for a, f, gp, gm in zip(self.arch.alpha, first, got[0], got[1]):
                a.grad = f - xi * (gp - gm) / (2 * eps)

    def step(self):
        {"weight": self.step_weight, "arch": self.step_arch,
         "full": self.step_full}[self.kind]()

    # -- memory ---------------------------------------------------------------

    def persistent_bytes(self):
        """Bytes of the tensors that live across steps: weights, their
        .grad, momentum buffers, BN running stats, arch codes with their
        gradients and Adam state, ISTA's dictionaries and sparse codes."""
        seen, total = set(), 0

        def add(t):
            nonlocal total
            if t is None or not torch.is_tensor(t):
                return
            key = (t.untyped_storage().data_ptr()
                   if hasattr(t, "untyped_storage")
                   else t.storage().data_ptr())
            if key in seen:
                return
            seen.add(key)
            total += t.numel() * t.element_size()

        for p in self.net.parameters():
            add(p)
            add(p.grad)
        for b in self.net.buffers():
            add(b)
        for b in self.bufs.values():
            add(b)
        for a in self.arch.parameters():
            add(a)
            add(a.grad)
        for st in self.arch_opt.state.values():
            for v in st.values():
                add(v)
        return total + self.arch.persistent_bytes()

    def cuda_peak(self):
        """Peak bytes allocated on the GPU during one step: everything
        live then, the tensors kept across steps included."""
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self.step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()

    def transient_peak(self):
        """Peak of the allocations one step makes on top of what lives
        across steps, from torch.profiler's memory events: every CPU
        allocation and free is a `[memory]` event with a signed byte
        count; integrated in time order, the running sum's maximum is the
        step's transient high-water mark (frees of tensors that existed
        before the step can take the sum below 0; the peak is taken
        from 0)."""
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            self.step()
        events = [(e.start_us(), k, e.nbytes()) for k, e in
                  enumerate(prof.profiler.kineto_results.events())
                  if e.name() == "[memory]"]
        events.sort()
        cur = peak = 0
        for _, _, nbytes in events:
            cur += nbytes
            peak = max(peak, cur)
        return peak


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--kind", required=True, choices=["weight", "arch", "full"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--data", choices=["random", "real"], default="random")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--log-loss", action="store_true")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the profiled step (peak_bytes: persistent only)")

    def error(msg):
        raise UsageError(msg)
    ap.error = error
    a = ap.parse_args(argv)
    if a.steps < 1 or a.warmup < 0 or a.threads < 1 or a.batch < 0:
        raise UsageError("--steps >= 1, --warmup >= 0, --threads >= 1, "
                         "--batch >= 1")
    return a


def main(argv):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = torch_config.load(a.config)
    batch = a.batch or int(torch_config.get(cfg, "train.batch_size"))
    if batch < 1:
        raise UsageError("batch size %d" % batch)
    cuda = a.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise UsageError("--device cuda: this torch %s sees no CUDA device"
                         % torch.__version__)
    b = Bench(cfg, a.kind, batch, a.data == "real", a.device)
    for i in range(a.warmup):
        b.step()
        if a.log_loss:
            print("warmup %d loss %.4f" % (i, b.last_loss), file=sys.stderr)
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(a.steps):
        b.step()
        if a.log_loss:
            print("step %d loss %.4f" % (i, b.last_loss), file=sys.stderr)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    if cuda:
        peak = b.cuda_peak()
    else:
        transient = 0 if a.no_memory else b.transient_peak()
        peak = b.persistent_bytes() + transient
    images = b.val_batch if a.kind == "arch" else batch
    print(json.dumps({
        "impl": "pytorch", "kind": a.kind, "method": b.method,
        "batch": images, "steps": a.steps, "seconds": round(seconds, 6),
        "images_per_s": round(images * a.steps / seconds, 3),
        "peak_bytes": int(peak),
        "params": torch_supernet.count_params(b.net),
        "torch": torch.__version__, "threads": a.threads,
        "device": (torch.cuda.get_device_name() if cuda else "cpu")}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit:
        raise
    except (UsageError, torch_config.ConfigError) as e:
        print("torch_step: %s" % e, file=sys.stderr)
        sys.exit(2)
    except Exception as e:  # one line, whatever failed
        print("torch_step: %s: %s" % (type(e).__name__,
                                      str(e).splitlines()[0] if str(e)
                                      else ""), file=sys.stderr)
        sys.exit(2)
