"""PyTorch twin of the engine's DA (core/da_policy.c, core/da_apply.c,
plugins/augment/*.c and their shaders), for bench/torch_step.py.

Policy: logits alpha over the K*K ordered pairs of transforms (float64 on
the host), P = softmax(alpha); per image a pair drawn from
softmax((log P + Gumbel)/T); magnitudes m = U(0,1) * level (level =
da.magnitude_search).  Update: the surrogate L = -mean_i loss_i P[a_i],
SGD with Nesterov momentum (PyTorch's formula).

Apply: two stages; in each, the batch is grouped by the stage's transform
and every group goes through its transform at once (torch ops, batched).
Transforms (images in [0, 1], NCHW):
  identity, invert, posterize, solarize, equalize (PIL's per image
  channel, from a 256-bin histogram), auto_contrast (per image channel
  min/max), brightness, contrast, color, sharpness (PIL's enhancers,
  out = clamp(d + f (x - d), 0, 1), f = m/8*1.8+0.1), rotate, shear_x,
  shear_y, translate_x, translate_y, flip_h (bilinear resampling with
  grid_sample, corners outside read `fill`), cutout.
The random sign of the affine transforms and cutout's centre come from
torch's generator rather than the engine's per-image seeds: the work is
the same, the pixels are not bit-identical (not required).
No gradient flows through the augmentation (da.learn_magnitude = false in
the configs benchmarked; the engine then records no backward either).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F


def _levels(x):
    return torch.clamp(torch.floor(x * 255.0 + 0.5), 0, 255)


def _per_image(v, x):
    return v.view(-1, *([1] * (x.dim() - 1)))


def _gray(x):
    if x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype,
                         device=x.device)
        return (x * w.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return x


def _blend(x, d, m):
    f = _per_image(m / 8.0 * 1.8 + 0.1, x)
    return torch.clamp(d + f * (x - d), 0.0, 1.0)


def t_identity(x, m, sign, p):
    return x


def t_invert(x, m, sign, p):
    return 1.0 - x


def t_posterize(x, m, sign, p):
    bits = torch.clamp((m / 8.0 * 3.0 + 1.0).floor(), 0, 8).to(torch.int32)
    mask = (256 - (1 << (8 - bits))).to(torch.int32)
    q = _levels(x).to(torch.int32)
    return torch.bitwise_and(q, _per_image(mask, q)).to(x.dtype) / 255.0


def t_solarize(x, m, sign, p):
    thr = (m / 8.0 * 256.0).floor()
    return torch.where(_levels(x) >= _per_image(thr, x), 1.0 - x, x)


def t_equalize(x, m, sign, p):
    n, c, h, w = x.shape
    rows = n * c
    q = _levels(x).to(torch.int64).view(rows, h * w)
    idx = q + (torch.arange(rows, device=x.device).view(rows, 1) * 256)
    hist = torch.bincount(idx.view(-1), minlength=rows * 256).view(rows, 256)
    # count of the highest non-empty level
    nz = hist > 0
    top = 255 - torch.flip(nz, dims=[1]).to(torch.int64).argmax(dim=1)
    last = hist.gather(1, top.view(rows, 1))
    step = torch.div(h * w - last, 255, rounding_mode="floor")
    cum = torch.cumsum(hist, dim=1) - hist  # exclusive
    safe = torch.where(step == 0, torch.ones_like(step), step)
    lut = torch.clamp(torch.div(torch.div(step, 2, rounding_mode="floor") +
                                cum, safe, rounding_mode="floor"), max=255)
    ident = torch.arange(256, device=x.device).view(1, 256).expand(rows, 256)
    lut = torch.where(step == 0, ident, lut)
    return (lut.gather(1, q).to(x.dtype) / 255.0).view(n, c, h, w)


def t_auto_contrast(x, m, sign, p):
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    lo = flat.amin(dim=2).view(n, c, 1, 1)
    hi = flat.amax(dim=2).view(n, c, 1, 1)
    rng = hi - lo
    return torch.where(rng < 1e-6, x, (x - lo) / torch.clamp(rng, min=1e-6))


def t_brightness(x, m, sign, p):
    return _blend(x, torch.zeros_like(x), m)


def t_contrast(x, m, sign, p):
    d = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, d, m)


def t_color(x, m, sign, p):
    return _blend(x, _gray(x), m)


_SMOOTH = torch.tensor([[1., 1., 1.], [1., 5., 1.], [1., 1., 1.]]) / 13.0


def t_sharpness(x, m, sign, p):
    c = x.shape[1]
    k = _SMOOTH.to(x.device, x.dtype).view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    inner = F.conv2d(x, k, groups=c)  # valid: the border keeps x
    d = x.clone()
    d[:, :, 1:-1, 1:-1] = inner
    return _blend(x, d, m)


def _affine(x, a, t, fill):
    """Output pixel p samples x bilinearly at c + A (p - c) + t (pixel
    coordinates, centres at integers); a: [n, 2, 2], t: [n, 2]."""
    n, ch, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype, device=x.device),
                            torch.arange(w, dtype=x.dtype, device=x.device),
                            indexing="ij")
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    rel = torch.stack([xs - cx, ys - cy], dim=-1).view(1, h * w, 2)
    src = rel @ a.transpose(1, 2) + t.view(n, 1, 2)  # minus c
    # align_corners=True: normalised = (pixel - c) / ((size - 1) / 2)
    grid = torch.stack([src[..., 0] / max(cx, 0.5), src[..., 1] /
                        max(cy, 0.5)], dim=-1).view(n, h, w, 2)
    if fill:
        return F.grid_sample(x - fill, grid, mode="bilinear",
                             padding_mode="zeros", align_corners=True) + fill
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def _make_affine(kind):
    def run(x, m, sign, p):
        n, _, h, w = x.shape
        a = torch.eye(2, dtype=x.dtype, device=x.device).repeat(n, 1, 1)
        t = torch.zeros(n, 2, dtype=x.dtype, device=x.device)
        if kind == "rotate":
            q = sign * m * (p["max_degrees"] * math.pi / 180.0 / 8.0)
            cs, sn = torch.cos(q), torch.sin(q)
            a = torch.stack([torch.stack([cs, -sn], 1),
                             torch.stack([sn, cs], 1)], 1)
        elif kind == "shear_x":
            a[:, 0, 1] = sign * m * (p["max_shear"] / 8.0)
        elif kind == "shear_y":
            a[:, 1, 0] = sign * m * (p["max_shear"] / 8.0)
        elif kind == "translate_x":
            t[:, 0] = -sign * m * (p["max_fraction"] * w / 8.0)
        elif kind == "translate_y":
            t[:, 1] = -sign * m * (p["max_fraction"] * h / 8.0)
        elif kind == "flip_h":
            a[:, 0, 0] = -1.0
        return _affine(x, a, t, p.get("_fill", 0.0))
    return run


def t_cutout(x, m, sign, p):
    n, _, h, w = x.shape
    half = m * (p.get("max_fraction", 0.5) * min(h, w) / 16.0)
    cx = torch.rand(n, device=x.device) * w
    cy = torch.rand(n, device=x.device) * h
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, w)
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, h, 1)
    cut = (((xs - cx.view(n, 1, 1)).abs() < half.view(n, 1, 1)) &
           ((ys - cy.view(n, 1, 1)).abs() < half.view(n, 1, 1)))
    return torch.where(cut.unsqueeze(1), torch.full_like(x, p.get("_fill", 0.0)),
                       x)


TRANSFORMS = {
    "identity": t_identity, "invert": t_invert, "posterize": t_posterize,
    "solarize": t_solarize, "equalize": t_equalize,
    "auto_contrast": t_auto_contrast, "brightness": t_brightness,
    "contrast": t_contrast, "color": t_color, "sharpness": t_sharpness,
    "rotate": _make_affine("rotate"), "shear_x": _make_affine("shear_x"),
    "shear_y": _make_affine("shear_y"),
    "translate_x": _make_affine("translate_x"),
    "translate_y": _make_affine("translate_y"),
    "flip_h": _make_affine("flip_h"), "cutout": t_cutout,
}

_DEFAULTS = {"rotate": {"max_degrees": 30.0}, "shear_x": {"max_shear": 0.3},
             "shear_y": {"max_shear": 0.3},
             "translate_x": {"max_fraction": 0.45},
             "translate_y": {"max_fraction": 0.45},
             "cutout": {"max_fraction": 0.5}}


class DAPolicy:
    def __init__(self, da, seed):
        self.ops = list(da["ops"])
        for o in self.ops:
            if o not in TRANSFORMS:
                raise ValueError("augment %s: not implemented in the PyTorch "
                                 "twin" % o)
        self.k = len(self.ops)
        self.params = []
        fill = float(da.get("fill", 0.0))
        for o in self.ops:
            p = dict(_DEFAULTS.get(o, {}))
            p.update(da.get("op_params", {}).get(o, {}))
            p["_fill"] = fill
            self.params.append(p)
        self.T = float(da["temperature"])
        self.lr = float(da["lr"])
        self.mu = float(da["momentum"])
        self.level = float(da["magnitude_search"])
        kk = self.k * self.k
        self.logits = np.zeros(kk)
        self.velocity = np.zeros(kk)
        self.rng = np.random.default_rng(seed)

    def probs(self):
        e = np.exp(self.logits - self.logits.max())
        return e / e.sum()

    def sample(self, n):
        """pairs [n] (int64), magnitudes [2, n] (float32), signs [2, n]."""
        kk = self.k * self.k
        logp = np.log(self.probs())
        u = self.rng.random((n, kk))
        u = np.where(u == 0.0, 0.5 / 2 ** 53, u)
        g = -np.log(-np.log(u))
        v = (logp[None, :] + g) / self.T
        v = np.exp(v - v.max(axis=1, keepdims=True))
        w = v / v.sum(axis=1, keepdims=True)
        cum = np.cumsum(w, axis=1)
        r = self.rng.random((n, 1))
        pair = np.minimum((cum <= r).sum(axis=1), kk - 1)
        mag = self.rng.random((2, n)) * self.level
        sign = np.where(self.rng.random((2, n)) < 0.5, -1.0, 1.0)
        return (torch.from_numpy(pair), torch.from_numpy(mag).float(),
                torch.from_numpy(sign).float())

    def apply(self, x, pair, mag, sign):
        y = x
        keys = [torch.div(pair, self.k, rounding_mode="floor"),
                pair % self.k]
        for st in range(2):
            out = torch.empty_like(y)
            key = keys[st]
            for t in torch.unique(key).tolist():
                idx = (key == t).nonzero().view(-1)
                out[idx] = TRANSFORMS[self.ops[t]](
                    y[idx], mag[st][idx], sign[st][idx], self.params[t])
            y = out
        return y

    def step(self, pair, loss):
        """The DHA surrogate update from per-image losses (host side)."""
        pair = np.asarray(pair)
        loss = np.asarray(loss, dtype=np.float64)
        n = len(pair)
        P = self.probs()
        c = -loss * P[pair] / n
        g = np.zeros_like(P)
        np.add.at(g, pair, c)
        g -= c.sum() * P
        self.velocity = self.mu * self.velocity + g
        self.logits -= self.lr * (g + self.mu * self.velocity)
