"""A parser for the regular subset of libconfig that `diffautoml` writes as a
resolved config (every key with its final value, no @include): settings
`name = value;` (or `name: value;`), groups `{ ... }`, lists `[ ... ]` and
`( ... )`, strings with C escapes, integers (decimal, hex, L suffix),
floats, booleans, and comments (`#`, `//`, `/* */`).

load(path) -> nested dicts / lists / scalars.  get(cfg, "a.b.c") walks it.
Errors raise ConfigError with the file and line.
"""

import re


class ConfigError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<float>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)|[-+]?(?:\d+\.\d*|\.\d+))
  | (?P<hex>[-+]?0[xX][0-9a-fA-F]+L{0,2})
  | (?P<int>[-+]?\d+L{0,2})
  | (?P<bool>(?i:true|false)\b)
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}\[\]()])
""", re.VERBOSE | re.DOTALL)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "\\": "\\", '"': '"'}


def _unescape(s):
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "x" and i + 3 < len(s):
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(text, path):
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConfigError("%s:%d: unexpected character %r" %
                              (path, line, text[pos]))
        kind, val = m.lastgroup, m.group()
        if kind not in ("ws", "comment"):
            yield kind, val, line
        line += val.count("\n")
        pos = m.end()
    yield "eof", "", line


class _Parser:
    def __init__(self, text, path):
        self.path = path
        self.toks = list(_tokens(text, path))
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self, want=None):
        tok = self.toks[self.i]
        if want is not None and tok[1] != want:
            raise ConfigError("%s:%d: expected %r, found %r" %
                              (self.path, tok[2], want, tok[1] or "end"))
        self.i += 1
        return tok

    def settings(self, closer):
        out = {}
        while True:
            kind, val, line = self.peek()
            if (closer is None and kind == "eof") or val == closer:
                return out
            if kind != "name":
                raise ConfigError("%s:%d: expected a setting name, found %r"
                                  % (self.path, line, val))
            self.take()
            sep = self.take()
            if sep[1] not in ("=", ":"):
                raise ConfigError("%s:%d: expected '=' after %s" %
                                  (self.path, line, val))
            out[val] = self.value()
            if self.peek()[1] in (";", ","):
                self.take()

    def value(self):
        kind, val, line = self.take()
        if val == "{":
            v = self.settings("}")
            self.take("}")
            return v
        if val in ("[", "("):
            closer = "]" if val == "[" else ")"
            items = []
            while self.peek()[1] != closer:
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.take()
            self.take(closer)
            return items
        if kind == "string":
            s = _unescape(val[1:-1])
            while self.peek()[0] == "string":  # adjacent literals concatenate
                s += _unescape(self.take()[1][1:-1])
            return s
        if kind == "float":
            return float(val)
        if kind == "hex":
            return int(val.rstrip("L"), 16)
        if kind == "int":
            return int(val.rstrip("L"))
        if kind == "bool":
            return val.lower() == "true"
        raise ConfigError("%s:%d: expected a value, found %r" %
                          (self.path, line, val or "end"))


def loads(text, path="<string>"):
    p = _Parser(text, path)
    cfg = p.settings(None)
    p.take("")
    return cfg


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s: %s" % (path, e.strerror))
    return loads(text, path)


_MISSING = object()


def get(cfg, key, default=_MISSING):
    """The value at dotted path `key`; default (or ConfigError) if absent."""
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is _MISSING:
                raise ConfigError("config: no setting %s" % key)
            return default
        node = node[part]
    return node
