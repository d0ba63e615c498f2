"""Text for character-level language models: a tokenizer and batches of windows.

The default corpus exists on every machine that runs glassnet: the Python standard
library's own source files (found through ``sysconfig``), split deterministically into
training and validation files.
"""
import os
import sysconfig

from ..backend import xp
from ..random import spawn
from ..tensor import Tensor


class CharTokenizer:
    """Maps each character of a fixed vocabulary to an integer and back.

    >>> tok = CharTokenizer("hello world")
    >>> tok.decode(tok.encode("hold"))
    'hold'
    >>> tok.vocab_size
    8
    """

    def __init__(self, text_or_chars):
        self.chars = sorted(set(text_or_chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text):
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise ValueError(f"CharTokenizer: characters {unknown[:10]!r} are not in the vocabulary of {self.vocab_size} characters")
        return xp.array([self.index[c] for c in text], dtype=xp.int64)

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)


def stdlib_text(limit_files=None):
    """The top-level ``.py`` files of Python's standard library, sorted by name; every
    tenth file is held out for validation. Returns ``(train_text, val_text)``."""
    folder = sysconfig.get_paths()["stdlib"]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))[:limit_files]
    if not names:
        raise FileNotFoundError(f"no Python source files found in the standard library folder {folder}")
    train, val = [], []
    for i, name in enumerate(names):
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
            (val if i % 10 == 9 else train).append(f.read())
    return "\n".join(train), "\n".join(val)


def text_file(path, val_fraction=0.1):
    """Read a text file and split it: the last ``val_fraction`` is validation."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if len(text.strip()) == 0:
        raise ValueError(f"the text file {path} is empty; a language model needs text to learn from")
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


class RandomWindows:
    """``steps`` batches of ``batch_size`` windows at random offsets of ``tokens``: the
    inputs are ``context`` tokens and the targets the same window shifted by one (the
    next character at every position). ``len()`` is ``steps``, so one pass is an epoch.

    Shape: each batch is (inputs (B, T) int64, targets (B, T) int64).
    """

    def __init__(self, tokens, context, batch_size, steps, seed=None):
        if len(tokens) <= context + 1:
            raise ValueError(f"the text has {len(tokens)} tokens, too few for windows of {context}+1")
        self.tokens, self.context, self.batch_size, self.steps = tokens, context, batch_size, steps
        self.generator = spawn(seed)

    def __len__(self):
        return self.steps

    def __iter__(self):
        offsets_of_window = xp.arange(self.context + 1)
        for _ in range(self.steps):
            starts = self.generator.integers(0, len(self.tokens) - self.context - 1, self.batch_size)
            windows = self.tokens[starts[:, None] + offsets_of_window]
            yield Tensor(windows[:, :-1]), Tensor(windows[:, 1:])


class SequentialWindows(RandomWindows):
    """Non-overlapping windows from the start of ``tokens``, the same every time: a
    fixed validation set. At most ``max_batches`` batches."""

    def __init__(self, tokens, context, batch_size, max_batches=None):
        count = (len(tokens) - 1) // context
        batches = -(-count // batch_size)
        super().__init__(tokens, context, batch_size, min(batches, max_batches or batches), seed=0)

    def __iter__(self):
        starts_all = xp.arange(0, (len(self.tokens) - 1) // self.context) * self.context
        offsets_of_window = xp.arange(self.context + 1)
        for b in range(self.steps):
            starts = starts_all[b * self.batch_size:(b + 1) * self.batch_size]
            windows = self.tokens[starts[:, None] + offsets_of_window]
            yield Tensor(windows[:, :-1]), Tensor(windows[:, 1:])
