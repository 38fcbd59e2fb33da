"""PyTorch twin of the engine's supernet (core/supernet.c, plugins/ops/*.c)
and of its architecture relaxations (core/arch.c), for bench/torch_step.py.

Supernet: stem conv 3x3 (no bias, stride search_space.stem_stride, pad 1)
+ affine BN; cells with reductions at cells//3 and 2*cells//3 (channels
doubled there); each cell preprocesses its two inputs (ReLU, 1x1 conv, BN
without affine; after a reduction cell the first input takes the factorized
reduce instead); node i sums weighted op outputs of the terms it is given;
the cell output concatenates all nodes; global average pool, linear
classifier (with bias); optional auxiliary head after cell 2*cells//3.
Every edge holds every candidate op except `none` (never instantiated,
never evaluated, as in the engine).  BN eps 1e-5, momentum 0.1, running
variance unbiased: PyTorch's BatchNorm2d defaults match core/batchnorm.c.

Arch: ISTA single-stage (dictionary A_i, code b_i, sparse code z_i by LASSO
coordinate descent, support = best op per input then best `sparseness`
inputs, weights w = A_S^T b - (A_S^T A_S - I) z_S) drawn with the engine's
own generator (splitmix64, seed cfg.seed ^ 0xa5c3) so the support, and so
the work per step, is the engine's; DARTS alphas 1e-3 N(0,1), softmax over
all ops of an edge including `none`, terms = every non-none op.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
AUX_HIDDEN = 128
AUX_WIDE = 768

MASK64 = (1 << 64) - 1


# ---- the engine's generator (core/rng.h) -----------------------------------

class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform01(self):
        return (self.next() >> 11) / float(1 << 53)

    def normal(self):  # Box-Muller, cosine branch (arch.c dam__normal)
        u1 = 1.0 - self.uniform01()
        u2 = self.uniform01()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


# ---- ops ------------------------------------------------------------------

def _bn(c, affine):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM, affine=affine)


def factorized_reduce(x, conv_even, conv_odd):
    """core/factorized_reduce.c: a 1x1 stride-2 conv on the even phase and a
    1x1 conv on the odd phase x[:, :, 1::2, 1::2] zero-padded to
    ceil(H/2) x ceil(W/2), concatenated along channels."""
    h, w = x.shape[2], x.shape[3]
    even = conv_even(x)
    odd = x[:, :, 1::2, 1::2]
    ph, pw = (h + 1) // 2 - odd.shape[2], (w + 1) // 2 - odd.shape[3]
    if ph or pw:
        odd = F.pad(odd, (0, pw, 0, ph))
    return torch.cat([even, conv_odd(odd)], dim=1)


class Pool(nn.Module):
    """max_pool_3x3 / avg_pool_3x3 (plugins/ops/pool.c): pad kernel//2,
    average excluding padding, then BN without affine."""

    def __init__(self, kind, c, stride, kernel=3):
        super().__init__()
        k, p = kernel, kernel // 2
        if kind == "max":
            self.pool = nn.MaxPool2d(k, stride, p)
        else:
            self.pool = nn.AvgPool2d(k, stride, p, count_include_pad=False)
        self.bn = _bn(c, False)

    def forward(self, x):
        return self.bn(self.pool(x))


class Skip(nn.Module):
    """skip_connect (plugins/ops/skip_connect.c): identity at stride 1, at
    stride 2 relu + factorized reduce (c_out/2 each half) + BN."""

    def __init__(self, c_in, c_out, stride, affine=False):
        super().__init__()
        self.stride = stride
        if stride == 2:
            self.even = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
            self.odd = nn.Conv2d(c_in, c_out // 2, 1, 1, bias=False)
            self.bn = _bn(c_out, affine)

    def forward(self, x):
        if self.stride == 1:
            return x
        return self.bn(factorized_reduce(F.relu(x), self.even, self.odd))


class SepDil(nn.Module):
    """sep_conv_KxK (2 stages) / dil_conv_KxK (1 stage), plugins/ops/conv.c:
    each stage relu -> depthwise KxK (dilation d, pad d*(K-1)/2; stride on
    the first stage) -> 1x1 -> BN."""

    def __init__(self, c_in, c_out, stride, kernel, dilation, affine, stages):
        super().__init__()
        layers = []
        pad = dilation * (kernel - 1) // 2
        for i in range(stages):
            out = c_out if i + 1 == stages else c_in
            layers += [nn.ReLU(inplace=False),
                       nn.Conv2d(c_in, c_in, kernel, stride if i == 0 else 1,
                                 pad, dilation, groups=c_in, bias=False),
                       nn.Conv2d(c_in, out, 1, bias=False),
                       _bn(out, affine)]
        self.op = nn.Sequential(*layers)

    def forward(self, x):
        return self.op(x)


def make_op(name, params, c, stride):
    p = params.get(name, {})
    if name == "max_pool_3x3":
        return Pool("max", c, stride, p.get("kernel", 3))
    if name == "avg_pool_3x3":
        return Pool("avg", c, stride, p.get("kernel", 3))
    if name == "skip_connect":
        return Skip(c, c, stride, bool(p.get("affine", False)))
    defaults = {"sep_conv_3x3": (3, 1, 2), "sep_conv_5x5": (5, 1, 2),
                "dil_conv_3x3": (3, 2, 1), "dil_conv_5x5": (5, 2, 1)}
    if name in defaults:
        k, d, stages = defaults[name]
        return SepDil(c, c, stride, int(p.get("kernel", k)),
                      int(p.get("dilation", d)), bool(p.get("affine", False)),
                      stages)
    raise ValueError("op %s: not implemented in the PyTorch twin" % name)


# ---- the supernet ------------------------------------------------------------

class Preprocess(nn.Module):
    """ReLU -> 1x1 conv -> BN (no affine), or ReLU -> factorized reduce ->
    BN (no affine) after a reduction cell."""

    def __init__(self, c_in, c_out, factorized):
        super().__init__()
        self.factorized = factorized
        if factorized:
            self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
            self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, 1, bias=False)
        else:
            self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = _bn(c_out, False)

    def forward(self, x):
        r = F.relu(x)
        y = (factorized_reduce(r, self.conv_1, self.conv_2) if self.factorized
             else self.conv(r))
        return self.bn(y)


def edge_of(node, frm):
    return node * (node + 3) // 2 + frm


class Cell(nn.Module):
    def __init__(self, nodes, c_pp, c_p, c, reduce, reduce_prev, ops, params):
        super().__init__()
        self.reduce = reduce
        self.nodes = nodes
        self.pre0 = Preprocess(c_pp, c, reduce_prev)
        self.pre1 = Preprocess(c_p, c, False)
        self.n_ops = len(ops)
        edges = []
        for i in range(nodes):
            for j in range(i + 2):
                stride = 2 if reduce and j < 2 else 1
                edges.append(nn.ModuleList(
                    [make_op(o, params, c, stride) if o != "none"
                     else nn.Identity() for o in ops]))
        self.edges = nn.ModuleList(edges)

    def forward(self, s0, s1, terms, weights, drop_path=0.0):
        """terms: list of (node, from, op) in node order; weights: a 1-D
        tensor with one weight per term."""
        st = [self.pre0(s0), self.pre1(s1)]
        for i in range(self.nodes):
            acc = None
            for k, (node, frm, op) in enumerate(terms):
                if node != i:
                    continue
                x = st[frm]
                h = self.edges[edge_of(i, frm)][op](x)
                if drop_path > 0 and self.training and h is not x:
                    keep = 1.0 - drop_path
                    mask = torch.bernoulli(torch.full(
                        (h.shape[0], 1, 1, 1), keep, device=h.device)) / keep
                    h = h * mask
                h = h * weights[k]
                acc = h if acc is None else acc + h
            if acc is None:
                raise ValueError("cell node %d has no input" % i)
            st.append(acc)
        return torch.cat(st[2:], dim=1)


class AuxHead(nn.Module):
    def __init__(self, c_in, h, classes):
        super().__init__()
        self.pool = min(h, 5)
        after = (h - self.pool) // 3 + 1
        k = min(after, 2)
        self.conv0 = nn.Conv2d(c_in, AUX_HIDDEN, 1, bias=False)
        self.bn0 = _bn(AUX_HIDDEN, True)
        self.conv1 = nn.Conv2d(AUX_HIDDEN, AUX_WIDE, k, bias=False)
        self.bn1 = _bn(AUX_WIDE, True)
        self.fc = nn.Linear(AUX_WIDE, classes)

    def forward(self, x):
        y = F.avg_pool2d(F.relu(x), self.pool, 3, 0)
        y = F.relu(self.bn0(self.conv0(y)))
        y = F.relu(self.bn1(self.conv1(y)))
        return self.fc(y.mean(dim=(2, 3)))


class Supernet(nn.Module):
    def __init__(self, in_ch, hw, classes, cells, channels, nodes, stem_mult,
                 stem_stride, ops, op_params, auxiliary=False):
        super().__init__()
        c_stem = stem_mult * channels
        self.stem_stride = stem_stride or 1
        self.stem_conv = nn.Conv2d(in_ch, c_stem, 3, self.stem_stride, 1,
                                   bias=False)
        self.stem_bn = _bn(c_stem, True)
        c_pp, c_p, c = c_stem, c_stem, channels
        h = (hw + 1) // 2 if self.stem_stride == 2 else hw
        reduce_prev = False
        self.cells = nn.ModuleList()
        self.aux_cell = -1
        self.aux = None
        for i in range(cells):
            reduce = i == cells // 3 or i == 2 * cells // 3
            if reduce:
                c *= 2
                h = (h + 1) // 2
            self.cells.append(Cell(nodes, c_pp, c_p, c, reduce, reduce_prev,
                                   ops, op_params))
            reduce_prev = reduce
            c_pp, c_p = c_p, nodes * c
            if auxiliary and i == 2 * cells // 3:
                self.aux_cell = i
                self.aux = AuxHead(c_p, h, classes)
        self.classifier = nn.Linear(c_p, classes)

    def forward(self, x, terms, weights, drop_path=0.0):
        """terms[k] / weights[k] for k = 0 (normal) and 1 (reduce).  Returns
        (logits, aux logits or None)."""
        s0 = s1 = self.stem_bn(self.stem_conv(x))
        aux = None
        for i, cell in enumerate(self.cells):
            r = int(cell.reduce)
            s0, s1 = s1, cell(s0, s1, terms[r], weights[r], drop_path)
            if i == self.aux_cell and self.training:
                aux = self.aux(s1)
        return self.classifier(s1.mean(dim=(2, 3))), aux


def build_supernet(cfg, method, in_ch=1, hw=28, classes=10):
    ss = cfg["search_space"]
    ops = list(ss["ops"])
    if (method == "darts" and cfg["nas"]["darts"].get("include_none", True)
            and "none" not in ops):
        ops.append("none")
    net = Supernet(in_ch, hw, classes, int(ss["cells"]), int(ss["channels"]),
                   int(ss["nodes"]), int(ss["stem_multiplier"]),
                   int(ss["stem_stride"]), ops, ss.get("op_params", {}),
                   bool(ss.get("auxiliary", False)))
    return net, ops


def count_params(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def flops_per_image(net, x, terms, weights):
    """Multiply-adds * 2 of conv2d and linear over one forward of x (batch
    1, eval mode), counted as the engine does (core/nn.c)."""
    total = [0]

    def conv_hook(m, inp, out):
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * \
            m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, inp, out):
        total[0] += 2 * inp[0].numel() * m.out_features

    hooks = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    was = net.training
    net.eval()
    with torch.no_grad():
        net(x, terms, weights)
    net.train(was)
    for h in hooks:
        h.remove()
    return total[0]


# ---- architecture relaxations (core/arch.c) ---------------------------------

def _lasso(A, b, lam, z, tol=1e-10, sweeps=10000):
    """argmin (1/(2P)) ||b - A z||^2 + lam ||z||_1 by cyclic coordinate
    descent, warm-started from z (arch.c dam__lasso)."""
    P, n = A.shape
    thr = P * lam
    n2 = (A * A).sum(axis=0)
    for _ in range(sweeps):
        r = b - A @ z
        moved = 0.0
        for j in range(n):
            old = z[j]
            t = float(A[:, j] @ r) + n2[j] * old
            nxt = 0.0
            if n2[j] > 0:
                nxt = ((t - thr) / n2[j] if t > thr else
                       (t + thr) / n2[j] if t < -thr else 0.0)
            if nxt == old:
                continue
            r -= A[:, j] * (nxt - old)
            moved = max(moved, abs(nxt - old))
            z[j] = nxt
        if moved < tol:
            break
    return z


def _top_inputs(score, k):
    taken = []
    for _ in range(k):
        best = None
        for f in range(len(score)):
            if f not in taken and (best is None or score[f] > score[best]):
                best = f
        taken.append(best)
    return sorted(taken)


class IstaArch:
    """ISTA single-stage codes for both cell kinds; b is a learnable
    float64 tensor per cell kind ([nodes, P]); terms() gives the support
    terms and their weights as a differentiable function of b."""

    def __init__(self, cfg, n_ops, none_op=-1, device="cpu"):
        ista = cfg["nas"]["ista"]
        self.nodes = int(cfg["search_space"]["nodes"])
        self.P = int(ista["proj_dims"])
        self.sparseness = int(ista["sparseness"])
        self.lam = float(ista["lasso_lambda"])
        code_std = float(ista.get("code_std", 0.0)) or 1e-3
        self.n_ops = n_ops
        self.none_op = none_op
        rng = SplitMix64(int(cfg.get("seed", 0)) ^ 0xA5C3)
        self.A, self.b, self.z, self.sup = [], [], [], []
        for c in range(2):
            As, bs = [], []
            for i in range(self.nodes):
                n = (i + 2) * n_ops
                A = np.array([rng.uniform01() for _ in range(self.P * n)],
                             dtype=np.float64).reshape(self.P, n)
                norms = np.sqrt((A * A).sum(axis=0))
                A = A / np.where(norms > 0, norms, 1.0)
                As.append(A)
                bs.append([code_std * rng.normal() for _ in range(self.P)])
            zs, sups = [], []
            for i in range(self.nodes):
                z = _lasso(As[i], np.array(bs[i]), self.lam,
                           np.zeros(As[i].shape[1]))
                zs.append(z)
                sups.append(self._pick(i, z))
            self.A.append([torch.from_numpy(a).to(device) for a in As])
            self.b.append(torch.tensor(bs, dtype=torch.float64,
                                       device=device, requires_grad=True))
            self.z.append([torch.from_numpy(z).to(device) for z in zs])
            self.sup.append(sups)

    def _pick(self, i, z):
        best, mag = [], []
        for f in range(i + 2):
            bo, bm = None, -1.0
            for o in range(self.n_ops):
                v = abs(z[f * self.n_ops + o])
                if o != self.none_op and v > bm:
                    bo, bm = o, v
            best.append(bo)
            mag.append(bm)
        keep = _top_inputs(mag, min(self.sparseness, i + 2))
        return [f * self.n_ops + best[f] for f in keep]

    def parameters(self):
        return [self.b[0], self.b[1]]

    def terms(self, cell):
        """(terms, weights): weights a float32 1-D tensor, differentiable
        in b[cell]: w = A_S^T b - (A_S^T A_S - I) z_S per node."""
        terms, ws = [], []
        for i in range(self.nodes):
            sup = self.sup[cell][i]
            A_S = self.A[cell][i][:, sup]
            z_S = self.z[cell][i][sup]
            gram = A_S.t() @ A_S - torch.eye(len(sup), dtype=torch.float64,
                                             device=A_S.device)
            ws.append(A_S.t() @ self.b[cell][i] - gram @ z_S)
            terms += [(i, col // self.n_ops, col % self.n_ops) for col in sup]
        return terms, torch.cat(ws).float()

    def persistent_bytes(self):
        n = 0
        for c in range(2):
            n += sum(a.numel() for a in self.A[c]) * 8
            n += sum(z.numel() for z in self.z[c]) * 8
        return n


class DartsArch:
    """DARTS alphas per cell kind ([edges, n_ops], float32, 1e-3 N(0,1));
    terms() = every non-none op of every edge with its softmax weight."""

    def __init__(self, cfg, n_ops, none_op, generator=None, device="cpu"):
        nodes = int(cfg["search_space"]["nodes"])
        self.nodes, self.n_ops, self.none_op = nodes, n_ops, none_op
        edges = nodes * (nodes + 3) // 2
        self.alpha = [(1e-3 * torch.randn(edges, n_ops, generator=generator)
                       ).to(device).requires_grad_(True) for _ in range(2)]
        self.keep = [o for o in range(n_ops) if o != none_op]
        self._terms = []
        for i in range(nodes):
            for f in range(i + 2):
                self._terms += [(i, f, o) for o in self.keep]

    def parameters(self):
        return list(self.alpha)

    def terms(self, cell):
        w = F.softmax(self.alpha[cell], dim=-1)[:, self.keep].reshape(-1)
        return self._terms, w

    def persistent_bytes(self):
        return 0
