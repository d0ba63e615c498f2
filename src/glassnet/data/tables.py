"""Tables: a CSV, TSV or Parquet file becomes training data for a network.

A network takes a float32 matrix, one row per example and one column per *feature*; a
table has columns of numbers, of categories ('red', 'blue'), missing cells, ID columns
and a target to predict. This module turns one into the other, in four steps:

1. :func:`read_table` reads the file into a pandas DataFrame.
2. :func:`infer_task` decides between classification and regression from the target.
3. :class:`TablePreprocessor` learns, from the training rows only, how to turn a table
   into features: numeric columns standardized (scikit-learn's ``StandardScaler``),
   categorical columns one-hot encoded (``OneHotEncoder(handle_unknown='ignore')``),
   missing cells filled in (``SimpleImputer``: the median of a numeric column, the most
   frequent value of a categorical one). scikit-learn fits; the fitted state is then kept
   as plain numbers and lists, so :meth:`~TablePreprocessor.to_json` saves it beside a
   checkpoint (no pickle) and :meth:`~TablePreprocessor.transform` needs only pandas and
   NumPy, giving identical features after :meth:`~TablePreprocessor.from_json`.
4. :func:`prepare_table` does it all and splits the rows (seeded; stratified by class when
   classifying): a :class:`TableData` with ``train`` and ``val`` datasets, the fitted
   preprocessor and a short ``report`` for the user.

>>> import pandas as pd
>>> frame = pd.DataFrame({"size": [1.0, 2.0, None, 4.0] * 5, "color": ["red", "blue"] * 10,
...                       "label": ["a", "b"] * 10})
>>> data = prepare_table(frame, "label", seed=0)
>>> data.task, data.classes, data.feature_names
('classify', ['a', 'b'], ['size', 'color=blue', 'color=red'])
>>> inputs, labels = data.train.arrays
>>> inputs.shape, inputs.dtype, labels.dtype, len(data.val)
((16, 3), dtype('float32'), dtype('int64'), 4)

The rules, in one place:

- **Task** (:func:`infer_task`): 'classify' when the target is text, bools or categories,
  or whole numbers with at most ``MAX_INFERRED_CLASSES`` (20) distinct values; else
  'regress'. ``task='classify'`` on a continuous target (more than 20 distinct values,
  not all whole numbers) is an error, as is ``task='regress'`` on a target that is not numeric.
- **Columns**: numbers (not bools) are numeric; everything else is categorical, its values
  compared as text (``1.0`` and ``1`` are the same category ``'1'``; spaces around a value
  are stripped). Dropped, each with a line in the report: row numbers (whole numbers
  that are exactly 0..N-1 or 1..N, like the unnamed index column ``DataFrame.to_csv``
  writes), ID-like columns (text, every value distinct, over at least ``ID_MIN_ROWS`` (10)
  training rows), constant columns and empty ones.
- **Many categories**: a categorical column with more than ``max_categories`` (50)
  distinct values keeps the 50 most frequent (ties by name) and puts the rest in one
  ``'(other)'`` category. A value not seen in training becomes all zeros (scikit-learn's
  ``handle_unknown='ignore'``), except in such a capped column, where it joins ``'(other)'``.
- **Targets**: classes are the target's distinct values as text, sorted (numerically when
  the target is numeric), and become int64 labels 0..C-1, shape ``(N,)``. A regression
  target becomes float32 of shape ``(N, 1)`` (what a network with one output gives, so
  ``MSELoss`` sees equal shapes), *standardized* with the training rows' mean and standard
  deviation: the network learns ``(y - mean) / std``, and
  :meth:`~TablePreprocessor.decode_target` maps its outputs back to the target's units.
  ``TableData.y_train`` / ``y_val`` hold the targets in their own units, for the metrics
  and the scikit-learn baselines. Rows without a target are dropped (the report says how many).
- **Prediction tables** go through :meth:`~TablePreprocessor.transform`: they need every
  column training used (the target and dropped columns may be absent) and no column
  training did not have. A numeric column that holds text is an error naming the row
  (counted from 0, below the header) and the column.

Errors about the table itself are :class:`TableError` s (a ``ValueError``) that say what
to do; a missing file is a ``FileNotFoundError``.
"""
import csv
import dataclasses
import difflib
import json
import math
import os

import numpy as np

from ..extras import MissingExtra, require
from .dataset import TensorDataset

TASKS = ("classify", "regress")
MAX_INFERRED_CLASSES = 20  # whole-number targets with at most this many values are classes
MAX_CATEGORIES = 50  # a categorical column keeps at most this many categories (+ '(other)')
ID_MIN_ROWS = 10  # below this many rows, distinct text values are not taken for an ID
OTHER = "(other)"
FORMAT = "glassnet.TablePreprocessor/1"
_SEPARATORS = ",\t;|"
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


class TableError(ValueError):
    """A table that cannot become training data as it is; the message says why and what to do."""


def _pandas():
    return require("pandas", "reading tables", extra="data")


def _sklearn(module):
    return require(f"sklearn.{module}", "fitting a table's preprocessing", extra="data")


# -- reading -------------------------------------------------------------------------------

def read_table(path, **read_csv_options):
    """The table in the file ``path`` as a pandas DataFrame, its column names stripped of
    surrounding spaces.

    ``.csv`` is read comma-separated and ``.tsv`` tab-separated (also compressed:
    ``.csv.gz``); ``.parquet`` / ``.pq``, or a file that starts as Parquet does, with the
    Parquet engine pandas finds (pyarrow or fastparquet). Any other text file (``.txt``,
    no extension) is sniffed for its separator: comma, tab, semicolon or bar.
    ``read_csv_options`` go to ``pandas.read_csv`` (e.g. ``dtype=str``; ``sep`` overrides
    the separator found).
    """
    pd = _pandas()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no table at {path}: check the path (relative paths start in {os.getcwd()})")
    if os.path.isdir(path):
        raise TableError(f"{path} is a folder; give a table file (.csv, .tsv, .txt or .parquet)")
    if _is_parquet(path):
        frame = _read_parquet(pd, path)
    else:
        try:
            frame = pd.read_csv(path, **{"sep": _separator(path), **read_csv_options})
        except pd.errors.EmptyDataError:
            raise TableError(f"{path} is empty: a table needs a header line and rows below it") from None
        except pd.errors.ParserError as error:
            raise TableError(f"cannot read {path} as a table: {error}") from None
        except UnicodeDecodeError as error:
            raise TableError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); "
                             "help: save it as UTF-8, or read it with pandas and pass the DataFrame") from None
    return frame.rename(columns=lambda name: str(name).strip())


def _is_parquet(path):
    if path.lower().endswith((".parquet", ".pq")):
        return True
    with open(path, "rb") as stream:
        return stream.read(4) == b"PAR1"


def _read_parquet(pd, path):
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise MissingExtra(f"reading the Parquet file {path} needs pyarrow (or fastparquet), which is not "
                           "installed: pip install pyarrow", name="pyarrow") from None
    except Exception as error:  # the engines raise their own error types
        raise TableError(f"cannot read {path} as Parquet: {error}") from None


def _separator(path):
    """',' for .csv, tab for .tsv, else sniffed from the first lines (',' when unsure)."""
    name = path.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    if name.endswith(".tsv"):
        return "\t"
    if name != path.lower():  # compressed: no sniffing through the compression
        return ","
    with open(path, encoding="utf-8", errors="replace") as stream:
        sample = stream.read(65536)
    header = sample.partition("\n")[0]
    if name.endswith(".csv") and "," in header:
        return ","
    try:
        return csv.Sniffer().sniff(sample, delimiters=_SEPARATORS).delimiter
    except csv.Error:  # e.g. one column, or a sample cut inside a quoted field
        counts = {separator: header.count(separator) for separator in _SEPARATORS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


# -- columns and their kinds ---------------------------------------------------------------

def _is_numeric(column):
    pd = _pandas()
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _text(value):
    """A category's name: 1.0 -> '1', True -> 'True', ' red ' -> 'red'."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _category_codes(column):
    """``(codes, names)``: cell ``i`` holds ``names[codes[i]]``, or is missing where the code
    is -1. Each distinct value is named once, not once per cell."""
    codes, uniques = _pandas().factorize(column, use_na_sentinel=True)
    return codes, [_text(value) for value in uniques]


def _texts(column):
    """The column as an object array of category names, NaN where a cell is missing."""
    codes, names = _category_codes(column)
    return np.array(names + [np.nan], dtype=object)[codes]  # code -1 picks the NaN at the end


def _whole_numbers(values):
    return bool(np.all(np.isfinite(values) & (values == np.round(values))))


def infer_task(series):
    """'classify' or 'regress' for a target column (a pandas Series).

    'classify' when its values are not numbers (text, bools, categories), or are whole
    numbers with at most ``MAX_INFERRED_CLASSES`` (20) distinct values; else 'regress'.
    Missing cells are ignored.

    >>> import pandas as pd
    >>> infer_task(pd.Series([0, 1, 1, 0])), infer_task(pd.Series(["cat", "dog"])), infer_task(pd.Series([0.5, 1.7]))
    ('classify', 'classify', 'regress')
    """
    values = series.dropna()
    if len(values) == 0:
        raise TableError(f"the target {series.name!r} has no values: every cell is empty")
    if not _is_numeric(values):
        return "classify"
    numbers = values.to_numpy(dtype=np.float64)
    if _whole_numbers(numbers) and len(np.unique(numbers)) <= MAX_INFERRED_CLASSES:
        return "classify"
    return "regress"


def _resolve_task(series, task):
    """``task`` checked against the target (or inferred when None)."""
    if task is None:
        return infer_task(series)
    if task not in TASKS:
        raise ValueError(f"task must be 'classify' or 'regress' (or None to infer it), got {task!r}")
    values = series.dropna()
    if task == "regress" and not _is_numeric(values):
        pd = _pandas()
        text = values[pd.to_numeric(values, errors="coerce").isna()]
        example = f" such as {_text(text.iloc[0])!r}" if len(text) else ""
        raise TableError(f"task='regress' needs a numeric target, but {series.name!r} holds values{example}; "
                         "help: use task='classify' to predict it as classes")
    if task == "classify" and _is_numeric(values):
        numbers = values.to_numpy(dtype=np.float64)
        distinct = len(np.unique(numbers))
        if not _whole_numbers(numbers) and distinct > MAX_INFERRED_CLASSES:
            raise TableError(f"task='classify', but the target {series.name!r} looks continuous: {distinct} distinct "
                             "values, not all whole numbers; help: use task='regress', or bin it into classes first")
    return task


def _target_name(frame, target, source):
    """``target`` as the frame names it (3 -> '3', as column names are strings here);
    a missing column is an error that lists the columns."""
    if target in frame.columns:
        return target
    if str(target) in frame.columns:
        return str(target)
    columns = [str(name) for name in frame.columns]
    listed = ", ".join(repr(name) for name in columns[:30])
    if len(columns) > 30:
        listed += f" and {len(columns) - 30} more"
    close = difflib.get_close_matches(str(target), columns, n=1)
    close = close or [name for name in columns if name.lower() == str(target).lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TableError(f"{source} has no column {target!r}{hint}; its columns are: {listed}")


def _row_number_columns(frame, target):
    """{name: reason} for columns that only number the rows: whole numbers, exactly 0..N-1
    or 1..N (in any order), as in the unnamed first column of ``DataFrame.to_csv``."""
    found = {}
    n = len(frame)
    if n < ID_MIN_ROWS:
        return found
    for name in frame.columns:
        column = frame[name]
        if name == target or not _is_numeric(column) or column.isna().any():
            continue
        values = np.sort(column.to_numpy(dtype=np.float64))
        if values[0] in (0, 1) and np.array_equal(values, np.arange(n) + values[0]):
            found[name] = f"row numbers, {values[0]:.0f} to {values[-1]:.0f}"
    return found


def _reason_to_drop(column, numeric):
    """Why a column (its training rows) holds nothing to learn from, or None."""
    values = column.dropna()
    if len(values) == 0:
        return "empty: every cell is missing"
    distinct = values.nunique()
    if distinct == 1:
        return f"constant: every value is {_text(values.iloc[0])!r}"
    if not numeric and len(values) >= ID_MIN_ROWS and distinct == len(values):
        return f"ID-like: every value is distinct (e.g. {_text(values.iloc[0])!r})"
    return None


def _named(frame):
    """``frame`` with every column name a string (JSON keys and messages need them)."""
    if all(isinstance(name, str) for name in frame.columns):
        return frame
    return frame.rename(columns=str)


# -- the preprocessor ----------------------------------------------------------------------

class TablePreprocessor:
    """Turns a table into a float32 feature matrix, and its target into labels or values.

    :meth:`fit` learns on the training rows only (scikit-learn's ``SimpleImputer``,
    ``StandardScaler`` and ``OneHotEncoder``); their fitted state is kept as plain lists:

    - ``numeric``: ``[{"name", "median", "mean", "scale"}]``: a cell becomes
      ``(value - mean) / scale``, a missing one the median first;
    - ``categorical``: ``[{"name", "fill", "categories", "other"}]``: one 0/1 feature per
      category, the most frequent value (``fill``) standing in for a missing cell;
      ``other`` is True when rare values were merged into ``'(other)'``;
    - ``dropped``: ``{name: reason}``; ``columns``: every input column of the training table;
    - the target: ``target``, ``task``, ``classes`` (classification) or ``target_mean`` /
      ``target_std`` (regression).

    Features come numeric columns first, then each categorical column's categories, as
    ``feature_names`` says ('age', 'color=blue', 'color=red').

    >>> import pandas as pd
    >>> train = pd.DataFrame({"age": [20, 40, None, 60], "pet": ["cat", "dog", "cat", None],
    ...                       "y": ["no", "yes", "yes", "no"]})
    >>> pre = TablePreprocessor().fit(train, "y")
    >>> pre.feature_names, pre.classes
    (['age', 'pet=cat', 'pet=dog'], ['no', 'yes'])
    >>> pre.transform(pd.DataFrame({"age": [40, None], "pet": ["dog", None]})).tolist()
    [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    >>> TablePreprocessor.from_json(pre.to_json()).decode_target(pre.encode_target(train["y"])).tolist()
    ['no', 'yes', 'yes', 'no']
    """

    def __init__(self, max_categories=MAX_CATEGORIES):
        if not isinstance(max_categories, int) or max_categories < 1:
            raise ValueError(f"max_categories must be a positive whole number, got {max_categories!r}")
        self.max_categories = max_categories
        self.target = None
        self.task = None
        self.columns = []
        self.numeric = []
        self.categorical = []
        self.dropped = {}
        self.classes = None
        self.target_mean = None
        self.target_std = None

    @property
    def fitted(self):
        return self.task is not None

    @property
    def feature_names(self):
        names = [entry["name"] for entry in self.numeric]
        for entry in self.categorical:
            names += [f"{entry['name']}={category}" for category in entry["categories"]]
        return names

    @property
    def used_columns(self):
        """The input columns the features come from (a prediction table needs them all)."""
        return [entry["name"] for entry in self.numeric + self.categorical]

    # -- fitting -----------------------------------------------------------------------

    def fit(self, frame, target, task=None, drop=None):
        """Learn from ``frame`` (the training rows, target included) how to make features.

        ``task`` is 'classify', 'regress' or None (inferred, see :func:`infer_task`);
        ``drop`` maps columns to leave out to the reason shown in the report. Rows whose
        target is missing are ignored. Returns ``self``.
        """
        frame = _named(frame)
        target = self.target = _target_name(frame, target, "the table")
        self.task = _resolve_task(frame[target], task)
        frame = frame[frame[target].notna()]
        if len(frame) == 0:
            raise TableError(f"no rows to fit on: the table has no rows with a value of {target!r}")
        self.columns = [name for name in frame.columns if name != target]
        self.dropped = {name: reason for name, reason in (drop or {}).items() if name in self.columns}
        numeric, categorical = [], []
        for name in self.columns:
            if name in self.dropped:
                continue
            is_numeric = _is_numeric(frame[name])
            reason = _reason_to_drop(frame[name], is_numeric)
            if reason:
                self.dropped[name] = reason
            else:
                (numeric if is_numeric else categorical).append(name)
        if not numeric and not categorical:
            raise TableError(f"no columns left to learn {target!r} from: "
                             + (f"dropped {self._dropped_text()}" if self.dropped else "the table has no other column"))
        self._fit_numeric(frame, numeric)
        self._fit_categorical(frame, categorical)
        self._fit_target(frame[target])
        return self

    def _fit_numeric(self, frame, names):
        self.numeric = []
        if not names:
            return
        values = np.column_stack([_numbers(frame[name], name) for name in names])
        imputer = _sklearn("impute").SimpleImputer(strategy="median").fit(values)
        scaler = _sklearn("preprocessing").StandardScaler().fit(imputer.transform(values))
        self.numeric = [{"name": name, "median": float(median), "mean": float(mean), "scale": float(scale)}
                        for name, median, mean, scale in zip(names, imputer.statistics_, scaler.mean_, scaler.scale_)]

    def _fit_categorical(self, frame, names):
        self.categorical = []
        if not names:
            return
        texts = np.column_stack([_texts(frame[name]) for name in names])
        imputer = _sklearn("impute").SimpleImputer(strategy="most_frequent").fit(texts)
        filled = imputer.transform(texts)
        capped = []
        for j in range(len(names)):
            kept = _most_frequent(filled[:, j], self.max_categories)
            capped.append(kept is not None)
            if kept is not None:
                filled[:, j] = np.where(np.isin(filled[:, j], kept), filled[:, j], OTHER)
        encoder = _sklearn("preprocessing").OneHotEncoder(handle_unknown="ignore").fit(filled)
        self.categorical = [{"name": name, "fill": str(fill), "categories": [str(c) for c in categories],
                             "other": other}
                            for name, fill, categories, other in zip(names, imputer.statistics_,
                                                                     encoder.categories_, capped)]

    def _fit_target(self, target):
        name = target.name
        if self.task == "classify":
            if _is_numeric(target):
                self.classes = [_text(value) for value in np.unique(target.to_numpy(dtype=np.float64))]
            else:
                self.classes = sorted(set(_texts(target)))
            if len(self.classes) < 2:
                raise TableError(f"the target {name!r} has one class ({self.classes[0]!r}) in the training rows: "
                                 "nothing to tell apart; help: check the target column")
            return
        values = target.to_numpy(dtype=np.float64)
        self.target_mean, self.target_std = float(values.mean()), float(values.std())
        if self.target_std == 0:
            raise TableError(f"the target {name!r} is {_text(values[0])} in every training row: nothing to learn")

    # -- transforming ------------------------------------------------------------------

    def transform(self, frame):
        """The features of ``frame``'s rows: a float32 array of shape ``(N, len(feature_names))``.

        ``frame`` needs the columns training used (its target and dropped columns may be
        missing) and none that training did not have.
        """
        self._check_fitted()
        frame = _named(frame)
        self._check_columns(frame)
        features = np.zeros((len(frame), len(self.feature_names)), dtype=np.float32)
        for j, entry in enumerate(self.numeric):
            values = _numbers(frame[entry["name"]], entry["name"])
            values = np.where(np.isnan(values), entry["median"], values)
            features[:, j] = (values - entry["mean"]) / entry["scale"]  # in float64, then stored as float32
        start = len(self.numeric)
        for entry in self.categorical:
            rows, columns = _one_hot(frame[entry["name"]], entry)
            features[rows, start + columns] = 1.0
            start += len(entry["categories"])
        return features

    def fit_transform(self, frame, target, task=None, drop=None):
        return self.fit(frame, target, task, drop).transform(frame)

    def _check_columns(self, frame):
        present = set(frame.columns)
        missing = [name for name in self.used_columns if name not in present]
        known = set(self.columns) | {self.target}
        extra = [name for name in frame.columns if name not in known]
        if missing or extra:
            parts = [f"missing {_names(missing)}"] * bool(missing) + [f"extra {_names(extra)}"] * bool(extra)
            raise TableError(f"the table's columns differ from the training table's: {'; '.join(parts)}; "
                             f"help: give the columns the network was trained on: {_names(self.used_columns)}")

    def missing_counts(self, frame):
        """{column: missing cells} for the used columns of ``frame`` that have any: the
        cells :meth:`transform` fills in."""
        return {name: int(frame[name].isna().sum()) for name in self.used_columns
                if name in frame.columns and frame[name].isna().any()}

    # -- the target --------------------------------------------------------------------

    def encode_target(self, values):
        """Targets as the network learns them: int64 labels ``(N,)`` (the index of each
        value in ``classes``) or float32 ``(N, 1)`` standardized values."""
        self._check_fitted()
        pd = _pandas()
        values = values if isinstance(values, pd.Series) else pd.Series(values, name=self.target)
        if values.isna().any():
            raise TableError(f"the target {self.target!r} is missing in {int(values.isna().sum())} rows; "
                             "help: drop those rows first")
        if self.task == "classify":
            index = {name: i for i, name in enumerate(self.classes)}
            texts = _texts(values)
            unknown = sorted(set(texts) - index.keys())
            if unknown:
                raise TableError(f"the target {self.target!r} holds classes not seen in training: "
                                 f"{_names(unknown[:10])}; the classes are {_names(self.classes)}")
            return np.array([index[text] for text in texts], dtype=np.int64)
        numbers = _numbers(values, self.target)
        return ((numbers - self.target_mean) / self.target_std).astype(np.float32)[:, None]

    def decode_target(self, outputs):
        """The network's outputs in the target's terms: class names (an array of str) from
        scores ``(N, C)`` or labels ``(N,)``; values in the target's units (float64
        ``(N,)``) from standardized outputs ``(N, 1)`` or ``(N,)``."""
        self._check_fitted()
        outputs = np.asarray(outputs)
        if self.task == "classify":
            labels = outputs.argmax(axis=-1) if outputs.ndim == 2 else outputs
            return np.array(self.classes, dtype=str)[labels.astype(np.int64)]
        return outputs.reshape(len(outputs), -1)[:, 0].astype(np.float64) * self.target_std + self.target_mean

    # -- saving ------------------------------------------------------------------------

    def to_dict(self):
        """The fitted state as plain JSON-ready values."""
        self._check_fitted()
        return {"format": FORMAT, "target": self.target, "task": self.task, "max_categories": self.max_categories,
                "columns": list(self.columns), "numeric": self.numeric, "categorical": self.categorical,
                "dropped": self.dropped, "classes": self.classes, "target_mean": self.target_mean,
                "target_std": self.target_std}

    def to_json(self):
        """The fitted state as a JSON string, e.g. for ``glassnet.save(..., metadata=...)``."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text):
        """The preprocessor that :meth:`to_json` saved (a JSON string, or the dict it holds)."""
        state = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        if state.get("format") != FORMAT:
            raise ValueError(f"not a saved TablePreprocessor (format {state.get('format')!r}, expected {FORMAT!r})")
        preprocessor = cls(state["max_categories"])
        for key in ("target", "task", "columns", "numeric", "categorical", "dropped", "classes", "target_mean",
                    "target_std"):
            setattr(preprocessor, key, state[key])
        return preprocessor

    def _check_fitted(self):
        if not self.fitted:
            raise RuntimeError("this TablePreprocessor is not fitted yet: call fit(frame, target) first")

    def _dropped_text(self):
        return ", ".join(f"{name!r} ({reason})" for name, reason in self.dropped.items())

    def __repr__(self):
        if not self.fitted:
            return "TablePreprocessor(not fitted)"
        return (f"TablePreprocessor(target={self.target!r}, task={self.task!r}, {len(self.numeric)} numeric + "
                f"{len(self.categorical)} categorical columns -> {len(self.feature_names)} features)")


def _names(names):
    return ", ".join(repr(name) for name in names)


def _numbers(column, name):
    """A numeric column as float64 (NaN where missing); text or an infinity in it is an
    error naming the row."""
    pd = _pandas()
    numbers = pd.to_numeric(column, errors="coerce")
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero((numbers.isna() & column.notna()).to_numpy() | np.isinf(values))
    if len(bad):
        more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
        what = f"the text {column.iloc[bad[0]]!r}" if np.isnan(values[bad[0]]) else f"{values[bad[0]]}"
        raise TableError(f"column {name!r} holds numbers, but row {bad[0]} (counted from 0, below the header) holds "
                         f"{what}{more}; help: fix or empty those cells")
    return values


def _most_frequent(texts, limit):
    """The ``limit`` most frequent values (ties by name), or None if there are no more than that."""
    values, counts = np.unique(texts.astype(str), return_counts=True)
    if len(values) <= limit:
        return None
    order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))
    return values[order[:limit]].astype(object)


def _one_hot(column, entry):
    """Where the ones go among the 0/1 columns of ``entry``'s categories: ``(rows, columns)``.
    A missing cell takes ``fill``; an unseen value has no one (all zeros), or is '(other)'
    in a capped column."""
    index = {category: i for i, category in enumerate(entry["categories"])}
    unseen = index[OTHER] if entry["other"] else -1
    codes, names = _category_codes(column)
    # the category of each distinct value, and last, of a missing cell (code -1)
    lookup = np.array([index.get(name, unseen) for name in names] + [index[entry["fill"]]], dtype=np.int64)
    categories = lookup[codes]
    rows = np.flatnonzero(categories >= 0)
    return rows, categories[rows]


# -- preparing a table ---------------------------------------------------------------------

@dataclasses.dataclass(repr=False)
class TableData:
    """A table ready for training, from :func:`prepare_table`.

    Attributes:
        train, val: :class:`~glassnet.data.TensorDataset` s of ``(features, targets)``:
            features float32 ``(N, F)``; targets int64 labels ``(N,)`` when classifying,
            float32 standardized values ``(N, 1)`` when regressing (see
            ``preprocessor.decode_target``). ``val`` is empty when ``val_split=0``.
        preprocessor: the fitted :class:`TablePreprocessor` (save ``preprocessor.to_json()``
            with the checkpoint to read prediction tables the same way).
        task: 'classify' or 'regress'.
        classes: the class names (label ``i`` is ``classes[i]``), or None when regressing.
        feature_names: one name per feature column.
        report: a few lines for the user: rows, columns used and dropped, cells filled in,
            class balance or the target's scale, the split.
        target: the target column's name.
        y_train, y_val: the targets in their own terms (int64 labels, or float32 values in
            the target's units, shape ``(N,)``), for metrics and scikit-learn baselines.
        train_rows, val_rows: the rows (counted from 0 in the table) of each split.
    """

    train: TensorDataset
    val: TensorDataset
    preprocessor: TablePreprocessor
    task: str
    classes: list | None
    feature_names: list
    report: str
    target: str
    y_train: np.ndarray
    y_val: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray

    @property
    def X_train(self):
        return self.train.arrays[0]

    @property
    def X_val(self):
        return self.val.arrays[0]

    @property
    def num_features(self):
        return len(self.feature_names)

    @property
    def num_outputs(self):
        """Outputs a network needs: one score per class, or one value."""
        return len(self.classes) if self.task == "classify" else 1

    def __repr__(self):
        return (f"TableData(target={self.target!r}, task={self.task!r}, {len(self.train)} train + {len(self.val)} val "
                f"rows, {self.num_features} features)")


def prepare_table(table, target, task=None, val_split=0.2, seed=0, max_categories=MAX_CATEGORIES):
    """Read a table, split its rows and make training data: a :class:`TableData`.

    Args:
        table: a file path (see :func:`read_table`) or a pandas DataFrame.
        target: the column to predict.
        task: 'classify', 'regress' or None (inferred, see :func:`infer_task`).
        val_split: the fraction of rows held out for validation, in [0, 1) (rounded up,
            as scikit-learn's ``train_test_split`` does); 0 for none.
        seed: fixes the split.
        max_categories: categories kept per categorical column (more become '(other)').

    The split is stratified by class when classifying, so each class keeps its share of
    the rows in both parts. The preprocessor is fitted on the training rows only.
    """
    pd = _pandas()
    if isinstance(table, pd.DataFrame):
        frame, source = _named(table).infer_objects(), "the table"
    else:
        frame, source = read_table(table), os.fspath(table)
    if len(frame) == 0:
        raise TableError(f"{source} has no rows: a table needs rows below its header")
    target = _target_name(frame, target, source)
    if not 0 <= val_split < 1:
        raise ValueError(f"val_split is the fraction of rows held out for validation, in [0, 1); got {val_split}")
    has_target = frame[target].notna().to_numpy()
    if not has_target.any():
        raise TableError(f"the target {target!r} is empty in every row of {source}")
    task = _resolve_task(frame[target], task)

    row_numbers = _row_number_columns(frame, target)  # before rows go, leaving gaps in the numbering
    notes = []
    if not has_target.all():
        notes.append(f"dropped {int((~has_target).sum())} rows with no value of {target!r}")
    rows, total = np.flatnonzero(has_target), len(frame)
    frame = frame.iloc[rows]

    labels = _class_labels(frame[target]) if task == "classify" else None
    train, val = _split(len(frame), val_split, seed, labels, target)
    preprocessor = TablePreprocessor(max_categories).fit(frame.iloc[train], target, task, drop=row_numbers)

    def dataset(part):
        features = preprocessor.transform(frame.iloc[part])
        return TensorDataset(features, preprocessor.encode_target(frame[target].iloc[part]))

    train_data, val_data = dataset(train), dataset(val)
    y_train, y_val = (_targets(preprocessor, frame[target].iloc[part]) for part in (train, val))
    report = _report(source, total, frame, preprocessor, train, val, val_split, seed, notes)
    return TableData(train_data, val_data, preprocessor, task, preprocessor.classes, preprocessor.feature_names,
                     report, target, y_train, y_val, rows[train], rows[val])


def _class_labels(target):
    """(class names, integer labels) of the target, for stratifying the split."""
    names, labels = np.unique(_texts(target).astype(str), return_inverse=True)
    return names, labels


def _split(n, val_split, seed, labels, target):
    """(train rows, val rows), each sorted; stratified when ``labels`` are given."""
    if labels is not None:
        names, labels = labels
        _check_stratifiable(names, labels, n, val_split, target)
    if val_split == 0:
        return np.arange(n), np.arange(0)
    n_val = math.ceil(val_split * n)
    if n - n_val < 1:
        raise TableError(f"{n} rows are too few to hold out {val_split:.0%} for validation and train on the rest; "
                         "help: use more rows or a smaller val_split")
    train_test_split = _sklearn("model_selection").train_test_split
    train, val = train_test_split(np.arange(n), test_size=n_val, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(val)


def _check_stratifiable(names, labels, n, val_split, target):
    counts = np.bincount(labels)
    if len(counts) < 2:
        raise TableError(f"the target {target!r} has a single class ({str(names[0])!r}): nothing to tell apart; "
                         "help: check the target column")
    if val_split == 0:
        return
    rare = np.flatnonzero(counts < 2)
    if len(rare):
        listed = _names([str(name) for name in names[rare[:5]]]) + (", ..." if len(rare) > 5 else "")
        raise TableError(f"too few rows for a stratified split: {len(rare)} of the {len(counts)} classes of {target!r} "
                         f"have a single row ({listed}), and each class needs at least 2 (one to train on, one to "
                         "validate); help: remove or merge the rare classes, gather more rows, or use val_split=0")
    n_val = math.ceil(val_split * n)
    if n_val < len(counts) or n - n_val < len(counts):
        raise TableError(f"a split of {n - n_val} training and {n_val} validation rows cannot hold every one of the "
                         f"{len(counts)} classes of {target!r} on both sides; help: use more rows, or a val_split "
                         f"between {len(counts) / n:.2f} and {1 - len(counts) / n:.2f}")


def _targets(preprocessor, values):
    if preprocessor.task == "classify":
        return preprocessor.encode_target(values)
    return _numbers(values, preprocessor.target).astype(np.float32)


def _report(source, total, frame, preprocessor, train, val, val_split, seed, notes):
    target = preprocessor.target
    numeric, categorical = preprocessor.numeric, preprocessor.categorical
    one_hot = sum(len(entry["categories"]) for entry in categorical)
    lines = [f"{source}: {total} rows, {len(frame.columns)} columns; target {target!r} ({preprocessor.task})",
             f"inputs: {len(numeric)} numeric (standardized) + {len(categorical)} categorical "
             f"(one-hot: {one_hot} columns) -> {len(preprocessor.feature_names)} features"]
    if preprocessor.dropped:
        lines.append(f"dropped: {preprocessor._dropped_text()}")
    missing = preprocessor.missing_counts(frame)
    if missing:
        how = {entry["name"]: "median" for entry in numeric} | {entry["name"]: "most frequent" for entry in categorical}
        lines.append(f"filled in {sum(missing.values())} missing cells: "
                     + ", ".join(f"{name!r} {count} ({how[name]})" for name, count in missing.items()))
    for entry in categorical:
        if entry["other"]:
            distinct = frame[entry["name"]].iloc[train].nunique()
            lines.append(f"capped: {entry['name']!r} keeps its {len(entry['categories']) - 1} most frequent of "
                         f"{distinct} values; the rest are {OTHER!r}")
        values = frame[entry["name"]].dropna()
        text = values[_pandas().to_numeric(values, errors="coerce").isna()]
        if 0 < len(text) <= 0.1 * len(values):  # numbers with a few words among them
            lines.append(f"note: {entry['name']!r} is read as categories: {len(text)} of its cells are not numbers "
                         f"(e.g. {_text(text.iloc[0])!r}); if they mark missing values, read the table with pandas "
                         "(na_values=...) and pass the DataFrame")
    if preprocessor.task == "classify":
        counts = np.bincount(preprocessor.encode_target(frame[target]), minlength=len(preprocessor.classes))
        shown = [f"{name!r} {count} ({count / len(frame):.0%})" for name, count in zip(preprocessor.classes, counts)]
        extra = f", ... ({len(shown) - 12} more)" if len(shown) > 12 else ""
        lines.append(f"classes: {', '.join(shown[:12])}{extra}")
    else:
        lines.append(f"target: mean {preprocessor.target_mean:.4g}, std {preprocessor.target_std:.4g} (training rows); "
                     "the network learns (y - mean) / std, predictions are mapped back")
    how_split = "stratified by class, " if preprocessor.task == "classify" and val_split else ""
    lines.append(f"split: {len(train)} training + {len(val)} validation rows ({how_split}seed {seed})")
    return "\n".join(lines + notes)
