"""glassnet.data.tables: from a CSV/TSV/Parquet table to training data.

Every table is generated here (written to tmp_path when a file is needed): numbers,
categories, missing cells, ID columns. The checks are numbers worked out by hand or by
scikit-learn itself, and the exact wording of every error a user can meet.
"""
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from glassnet.data import TensorDataset  # noqa: E402
from glassnet.data.tables import (  # noqa: E402
    MAX_INFERRED_CLASSES, OTHER, TableData, TableError, TablePreprocessor, infer_task, prepare_table, read_table)
from glassnet.extras import MissingExtra  # noqa: E402


def mixed_table(n=120, seed=0):
    """A table as users have them: an ID, numbers with holes, categories with holes, a
    bool, an unbalanced three-class label and a continuous price."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, n).round(1)
    age[rng.random(n) < 0.1] = np.nan
    city = rng.choice(["Oslo", "Lima", "Pune"], n).astype(object)
    city[rng.random(n) < 0.1] = None
    income = rng.lognormal(10, 0.5, n).round(2)
    return pd.DataFrame({
        "customer": [f"c{i:04d}" for i in range(n)],
        "age": age,
        "income": income,
        "city": city,
        "member": rng.random(n) < 0.5,
        "label": rng.choice(["no", "yes", "maybe"], n, p=[0.6, 0.3, 0.1]),
        "price": (income / 1000 + rng.normal(0, 1, n)).round(3),
    })


def write(frame, path, **options):
    frame.to_csv(path, index=False, **options)
    return path


# -- reading -----------------------------------------------------------------------------

def test_csv_and_tsv_are_read_by_extension(tmp_path):
    frame = mixed_table(20)
    csv = read_table(write(frame, tmp_path / "t.csv"))
    tsv = read_table(write(frame, tmp_path / "t.tsv", sep="\t"))
    assert list(csv.columns) == list(frame.columns) == list(tsv.columns)
    pd.testing.assert_frame_equal(csv, tsv)
    assert csv["age"].isna().sum() == frame["age"].isna().sum()


@pytest.mark.parametrize("name, separator", [("t.txt", ";"), ("t.txt", "\t"), ("table", "|"), ("t.csv", ";")])
def test_other_separators_are_sniffed(tmp_path, name, separator):
    frame = mixed_table(20)
    read = read_table(write(frame, tmp_path / name, sep=separator))
    assert list(read.columns) == list(frame.columns)
    np.testing.assert_allclose(read["income"], frame["income"])


def test_compressed_csv_and_stripped_column_names(tmp_path):
    path = tmp_path / "t.csv.gz"
    pd.DataFrame({" a ": [1, 2], "b": [3, 4]}).to_csv(path, index=False)
    assert list(read_table(path).columns) == ["a", "b"]


def test_parquet_needs_an_engine_and_says_which(tmp_path):
    frame = mixed_table(20)
    path = tmp_path / "t.parquet"
    try:
        frame.to_parquet(path)
    except ImportError:  # no pyarrow / fastparquet here: the error names what to install
        path.write_bytes(b"PAR1 not really parquet")
        with pytest.raises(MissingExtra, match=r"reading the Parquet file .*t\.parquet needs pyarrow.*pip install pyarrow"):
            read_table(path)
        renamed = tmp_path / "data.bin"  # found by its first bytes, whatever its name
        renamed.write_bytes(b"PAR1 not really parquet")
        with pytest.raises(MissingExtra, match="Parquet"):
            read_table(renamed)
    else:
        pd.testing.assert_frame_equal(read_table(path), frame)


def test_reading_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no table at .*nowhere\.csv"):
        read_table(tmp_path / "nowhere.csv")
    with pytest.raises(TableError, match=r"is a folder"):
        read_table(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TableError, match=r"empty\.csv is empty: a table needs a header line"):
        read_table(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,x\nJos\xe9,1\n".encode("latin-1"))
    with pytest.raises(TableError, match=r"latin\.csv is not UTF-8 text.*save it as UTF-8"):
        read_table(latin)


# -- the task ----------------------------------------------------------------------------

@pytest.mark.parametrize("values, task", [
    ([0, 1, 1, 0], "classify"),
    (["cat", "dog", None], "classify"),
    ([True, False, True], "classify"),
    ([1.0, 2.0, np.nan, 3.0], "classify"),  # whole numbers read as floats because of a hole
    (list(range(MAX_INFERRED_CLASSES)) * 3, "classify"),
    (list(range(MAX_INFERRED_CLASSES + 1)) * 3, "regress"),
    ([0.5, 1.0, 1.5], "regress"),
    (np.linspace(0, 1, 100), "regress"),
])
def test_infer_task(values, task):
    assert infer_task(pd.Series(values, name="y")) == task


def test_classes_are_sorted_names_numbers_numerically():
    frame = pd.DataFrame({"x": np.arange(30.0) % 7, "y": [10, 2, 1] * 10})
    data = prepare_table(frame, "y")
    assert data.classes == ["1", "2", "10"]
    assert data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.preprocessor.decode_target(data.y_train),
                                  frame["y"].astype(str).to_numpy()[data.train_rows])
    text = prepare_table(frame.assign(y=frame["y"].map({10: "ten", 2: "two", 1: "one"})), "y")
    assert text.classes == ["one", "ten", "two"]


# -- preparing a table ---------------------------------------------------------------------

def test_a_mixed_table_becomes_training_data(tmp_path):
    path = write(mixed_table(), tmp_path / "customers.csv")
    data = prepare_table(path, "label", seed=0)
    assert isinstance(data, TableData) and data.task == "classify"
    assert data.classes == ["maybe", "no", "yes"]
    # 'price' is an ordinary input here; the ID column is dropped
    assert data.feature_names == ["age", "income", "price", "city=Lima", "city=Oslo", "city=Pune",
                                  "member=False", "member=True"]
    assert list(data.preprocessor.dropped) == ["customer"]
    assert data.preprocessor.dropped["customer"].startswith("ID-like: every value is distinct (e.g. 'c0")
    for part in (data.train, data.val):
        assert isinstance(part, TensorDataset)
        features, labels = part.arrays
        assert features.dtype == np.float32 and features.shape[1] == 8 and labels.dtype == np.int64
        assert labels.shape == (len(features),) and not np.isnan(features).any()
    assert (len(data.train), len(data.val)) == (96, 24)
    assert data.num_features == 8 and data.num_outputs == 3
    assert sorted(np.concatenate([data.train_rows, data.val_rows]).tolist()) == list(range(120))
    frame = mixed_table()
    lines = data.report.splitlines()
    assert lines[0] == f"{path}: 120 rows, 7 columns; target 'label' (classify)"
    assert lines[1] == "inputs: 3 numeric (standardized) + 2 categorical (one-hot: 5 columns) -> 8 features"
    assert "dropped: 'customer' (ID-like" in lines[2]
    holes_age, holes_city = int(frame["age"].isna().sum()), int(frame["city"].isna().sum())
    assert (f"filled in {holes_age + holes_city} missing cells: 'age' {holes_age} (median), "
            f"'city' {holes_city} (most frequent)") in lines
    counts = frame["label"].value_counts()
    assert f"classes: 'maybe' {counts['maybe']} ({counts['maybe'] / 120:.0%})" in data.report
    assert lines[-1] == "split: 96 training + 24 validation rows (stratified by class, seed 0)"


def test_a_regression_target_is_standardized_and_mapped_back():
    frame = mixed_table()
    data = prepare_table(frame, "price", seed=1)
    assert data.task == "regress" and data.classes is None and data.num_outputs == 1
    targets = data.train.arrays[1]
    assert targets.shape == (96, 1) and targets.dtype == np.float32
    train_prices = frame["price"].to_numpy()[data.train_rows]
    mean, std = train_prices.mean(), train_prices.std()
    assert data.preprocessor.target_mean == pytest.approx(mean) and data.preprocessor.target_std == pytest.approx(std)
    np.testing.assert_allclose(targets[:, 0], (train_prices - mean) / std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.y_train, train_prices, rtol=1e-6)  # the targets in their own units
    np.testing.assert_allclose(data.preprocessor.decode_target(data.val.arrays[1]), data.y_val, rtol=1e-5)
    assert "the network learns (y - mean) / std" in data.report
    assert data.report.splitlines()[-1] == "split: 96 training + 24 validation rows (seed 1)"


def test_the_split_is_stratified_and_seeded():
    frame = mixed_table(200)
    data = prepare_table(frame, "label", val_split=0.25, seed=3)
    everything = np.bincount(np.concatenate([data.y_train, data.y_val])) / 200
    for part in (data.y_train, data.y_val):
        np.testing.assert_allclose(np.bincount(part, minlength=3) / len(part), everything, atol=0.02)
    again = prepare_table(frame, "label", val_split=0.25, seed=3)
    np.testing.assert_array_equal(again.val_rows, data.val_rows)
    np.testing.assert_array_equal(again.X_val, data.X_val)
    assert not np.array_equal(prepare_table(frame, "label", val_split=0.25, seed=4).val_rows, data.val_rows)
    assert len(data.val) == 50


def test_standardization_and_filling_use_the_training_rows_only():
    rng = np.random.default_rng(0)
    x = rng.normal(5, 2, 50)
    x[[3, 17, 30]] = np.nan
    frame = pd.DataFrame({"x": x, "y": rng.normal(size=50)})
    data = prepare_table(frame, "y", val_split=0.3, seed=0)
    train_x, val_x = x[data.train_rows], x[data.val_rows]
    median = np.nanmedian(train_x)
    filled = np.where(np.isnan(train_x), median, train_x)
    mean, std = filled.mean(), filled.std()  # the scaler sees the filled training column
    entry = data.preprocessor.numeric[0]
    assert (entry["median"], entry["mean"], entry["scale"]) == pytest.approx((median, mean, std))
    np.testing.assert_allclose(data.X_train[:, 0], (filled - mean) / std, rtol=1e-5, atol=1e-6)
    expected_val = (np.where(np.isnan(val_x), median, val_x) - mean) / std
    np.testing.assert_allclose(data.X_val[:, 0], expected_val, rtol=1e-5, atol=1e-6)
    # the training features are standardized; the validation ones only nearly
    assert data.X_train[:, 0].mean() == pytest.approx(0, abs=1e-6) and data.X_train[:, 0].std() == pytest.approx(1, abs=1e-5)
    assert abs(data.X_val[:, 0].mean()) > 1e-3


def test_features_match_scikit_learns_own_pipeline():
    compose, impute, pipeline, preprocessing = (pytest.importorskip(f"sklearn.{m}") for m in
                                                ("compose", "impute", "pipeline", "preprocessing"))
    frame = mixed_table(150, seed=5).drop(columns=["customer", "member", "price"])
    train, test = frame.iloc[:100], frame.iloc[100:]
    reference = compose.ColumnTransformer([
        ("numbers", pipeline.make_pipeline(impute.SimpleImputer(strategy="median"), preprocessing.StandardScaler()),
         ["age", "income"]),
        ("categories", pipeline.make_pipeline(impute.SimpleImputer(strategy="most_frequent"),
                                              preprocessing.OneHotEncoder(handle_unknown="ignore")), ["city"]),
    ], sparse_threshold=0).fit(train.astype({"city": object}).fillna({"city": np.nan}))
    mine = TablePreprocessor().fit(train, "label")
    theirs = reference.transform(test.astype({"city": object}).fillna({"city": np.nan})).astype(np.float32)
    np.testing.assert_allclose(mine.transform(test), theirs, rtol=1e-6, atol=1e-6)


def test_the_json_round_trip_gives_identical_features(tmp_path):
    import glassnet as gn
    from glassnet.serialization import load_metadata

    frame = mixed_table(150)
    data = prepare_table(frame, "price")
    text = data.preprocessor.to_json()
    assert isinstance(text, str) and json.loads(text)["format"] == "glassnet.TablePreprocessor/1"
    # saved as checkpoint metadata (safetensors + JSON), read back
    path = tmp_path / "model.safetensors"
    gn.save(gn.nn.Linear(len(data.feature_names), 1), path, metadata={"preprocessor": text})
    restored = TablePreprocessor.from_json(load_metadata(path)["preprocessor"])
    new = mixed_table(40, seed=9).drop(columns=["price"])
    new.loc[0, "city"] = "Quito"  # unseen
    new.loc[1, "age"] = np.nan
    for table in (frame, new):
        np.testing.assert_array_equal(restored.transform(table), data.preprocessor.transform(table))
    assert restored.feature_names == data.feature_names and restored.to_json() == text
    np.testing.assert_array_equal(restored.decode_target([[0.5], [-1.0]]), data.preprocessor.decode_target([[0.5], [-1.0]]))
    assert TablePreprocessor.from_json(json.loads(text)).to_json() == text  # the dict works too


def test_unseen_categories_are_zeros_and_missing_ones_the_most_frequent():
    frame = pd.DataFrame({"color": ["red", "red", "blue", "green"] * 5, "y": [0, 1] * 10})
    pre = TablePreprocessor().fit(frame, "y")
    assert pre.feature_names == ["color=blue", "color=green", "color=red"]
    features = pre.transform(pd.DataFrame({"color": ["purple", None, "blue", " blue "]}))
    np.testing.assert_array_equal(features, [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0]])


def test_a_column_of_many_categories_keeps_the_most_frequent():
    rng = np.random.default_rng(0)
    common = [f"v{i:02d}" for i in range(50)]
    values = common * 4 + [f"rare{i}" for i in range(30)] + ["rare0"]  # 80 distinct values
    frame = pd.DataFrame({"code": rng.permutation(np.array(values, dtype=object)), "x": rng.normal(size=len(values))})
    frame["y"] = rng.integers(0, 2, len(frame))
    data = prepare_table(frame, "y", val_split=0)
    entry = data.preprocessor.categorical[0]
    assert entry["other"] and len(entry["categories"]) == 51 and OTHER in entry["categories"]
    assert set(entry["categories"]) - {OTHER} == set(common)  # 'rare0' appears twice, the common ones 4 times
    assert "capped: 'code' keeps its 50 most frequent of 80 values; the rest are '(other)'" in data.report
    other = data.feature_names.index(f"code={OTHER}")
    features = data.preprocessor.transform(pd.DataFrame({"code": ["rare5", "never seen", "v07"], "x": [0.0] * 3}))
    assert features[0, other] == features[1, other] == 1 and features[2, other] == 0
    assert features[2, data.feature_names.index("code=v07")] == 1


def test_row_numbers_constant_and_empty_columns_are_dropped_with_a_note(tmp_path):
    frame = mixed_table(60)
    frame["empty"] = np.nan
    frame["constant"] = "same"
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)  # pandas writes the row numbers as an unnamed first column
    data = prepare_table(path, "label")
    dropped = data.preprocessor.dropped
    assert list(dropped) == ["Unnamed: 0", "customer", "empty", "constant"]
    assert dropped["Unnamed: 0"] == "row numbers, 0 to 59"
    assert dropped["customer"].startswith("ID-like: every value is distinct")
    assert dropped["empty"] == "empty: every cell is missing"
    assert dropped["constant"] == "constant: every value is 'same'"
    assert "dropped: 'Unnamed: 0' (row numbers, 0 to 59), 'customer' (ID-like" in data.report
    # a prediction table may leave dropped columns out
    assert data.preprocessor.transform(frame.drop(columns=["customer", "empty", "label"])).shape == (60, 8)


def test_rows_without_a_target_are_dropped_and_counted():
    frame = mixed_table(50)
    frame.loc[[4, 9], "label"] = None
    frame.insert(0, "row", np.arange(50))
    data = prepare_table(frame, "label")
    assert data.preprocessor.dropped["row"] == "row numbers, 0 to 49"  # found before the two rows went
    assert len(data.train) + len(data.val) == 48
    assert 4 not in data.train_rows and 9 not in data.val_rows
    assert "dropped 2 rows with no value of 'label'" in data.report
    assert data.report.startswith("the table: 50 rows, 8 columns;")


def test_no_validation_split():
    data = prepare_table(mixed_table(30), "label", val_split=0)
    assert len(data.train) == 30 and len(data.val) == 0 and data.X_val.shape == (0, data.num_features)


def test_text_in_a_categorical_column_that_looks_numeric_is_reported():
    frame = pd.DataFrame({"count": [str(i) for i in range(19)] * 2 + ["?", "?"], "y": [0, 1] * 20})
    data = prepare_table(frame, "y")
    assert "note: 'count' is read as categories: 2 of its cells are not numbers (e.g. '?')" in data.report


# -- errors, with their messages -------------------------------------------------------------

def test_a_missing_target_lists_the_columns(tmp_path):
    path = write(mixed_table(20), tmp_path / "t.csv")
    with pytest.raises(TableError, match=r"t\.csv has no column 'Label' \(did you mean 'label'\?\); its columns are: "
                                         r"'customer', 'age', 'income', 'city', 'member', 'label', 'price'$"):
        prepare_table(path, "Label")
    with pytest.raises(TableError, match=r"has no column 'zzz'; its columns are: 'customer'"):
        prepare_table(path, "zzz")


def test_classifying_a_continuous_target_says_so():
    with pytest.raises(TableError, match=r"task='classify', but the target 'price' looks continuous: 120 distinct "
                                         r"values, not all whole numbers; help: use task='regress'"):
        prepare_table(mixed_table(), "price", task="classify")


def test_regressing_a_text_target_says_so():
    with pytest.raises(TableError, match=r"task='regress' needs a numeric target, but 'label' holds values such as "
                                         r"'(no|yes|maybe)'; help: use task='classify'"):
        prepare_table(mixed_table(), "label", task="regress")
    with pytest.raises(ValueError, match=r"task must be 'classify' or 'regress'.*got 'classification'"):
        prepare_table(mixed_table(), "label", task="classification")


def test_too_few_rows_per_class_for_a_stratified_split():
    frame = mixed_table(40)
    frame.loc[0, "label"] = "unique"
    with pytest.raises(TableError, match=r"too few rows for a stratified split: 1 of the 4 classes of 'label' have a "
                                         r"single row \('unique'\), and each class needs at least 2"):
        prepare_table(frame, "label")
    prepare_table(frame, "label", val_split=0)  # without a split it trains
    few = pd.DataFrame({"x": np.arange(12.0), "y": list("abcdef") * 2})
    with pytest.raises(TableError, match=r"a split of 9 training and 3 validation rows cannot hold every one of the 6 "
                                         r"classes of 'y' on both sides"):
        prepare_table(few, "y", val_split=0.2)


def test_an_empty_table(tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,label\n")
    with pytest.raises(TableError, match=r"header\.csv has no rows"):
        prepare_table(header_only, "label")
    with pytest.raises(TableError, match=r"the target 'label' is empty in every row of the table"):
        prepare_table(pd.DataFrame({"x": [1.0, 2.0], "label": [None, None]}), "label")
    with pytest.raises(TableError, match=r"no columns left to learn 'label' from: dropped 'x' \(constant"):
        prepare_table(pd.DataFrame({"x": [1.0] * 10, "label": [0, 1] * 5}), "label")
    with pytest.raises(TableError, match=r"the target 'label' has a single class \('a'\)"):
        prepare_table(pd.DataFrame({"x": np.arange(10.0), "label": ["a"] * 10}), "label")


def test_text_in_a_numeric_column_names_the_row_and_column():
    pre = prepare_table(mixed_table(), "label").preprocessor
    table = mixed_table(10).astype({"income": object})
    table.loc[3, "income"] = "n/a"
    table.loc[7, "income"] = "unknown"
    with pytest.raises(TableError, match=r"column 'income' holds numbers, but row 3 \(counted from 0, below the header\) "
                                         r"holds the text 'n/a' \(and 1 more rows\)"):
        pre.transform(table)
    with pytest.raises(TableError, match=r"column 'age' holds numbers, but row 2 .* holds inf;"):
        pre.transform(mixed_table(10).assign(age=[0, 1, np.inf] + [0] * 7))
    as_text = mixed_table(10).astype({"income": str})  # numbers written as text are numbers
    np.testing.assert_allclose(pre.transform(as_text), pre.transform(mixed_table(10)), rtol=1e-6)


def test_a_prediction_table_with_other_columns_names_them():
    pre = prepare_table(mixed_table(), "label").preprocessor
    table = mixed_table(10).drop(columns=["age", "city"]).assign(colour="red")
    with pytest.raises(TableError, match=r"the table's columns differ from the training table's: missing 'age', 'city'; "
                                         r"extra 'colour'; help: give the columns the network was trained on: 'age', "
                                         r"'income', 'price', 'city', 'member'$"):
        pre.transform(table)
    assert pre.transform(mixed_table(10).drop(columns=["label", "customer"])).shape == (10, 8)


def test_preprocessor_misuse_is_explained():
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(frame, target\) first"):
        TablePreprocessor().transform(mixed_table(5))
    with pytest.raises(ValueError, match=r"not a saved TablePreprocessor"):
        TablePreprocessor.from_json('{"format": "something else"}')
    pre = prepare_table(mixed_table(), "label").preprocessor
    with pytest.raises(TableError, match=r"holds classes not seen in training: 'perhaps'; the classes are 'maybe', 'no', "
                                         r"'yes'"):
        pre.encode_target(["yes", "perhaps"])
    with pytest.raises(ValueError, match=r"val_split is the fraction of rows held out.*got 1\.5"):
        prepare_table(mixed_table(), "label", val_split=1.5)


# -- the baselines on a prepared table ---------------------------------------------------------

@pytest.mark.parametrize("loader, target_task, figure, floor", [
    ("load_wine", "classify", "accuracy", 0.9),
    ("load_diabetes", "regress", "r2", 0.2),
])
def test_the_baselines_score_the_prepared_split(tmp_path, loader, target_task, figure, floor):
    from glassnet.lab.baselines import format_baselines, table_baselines
    from sklearn import datasets

    path = tmp_path / "table.csv"
    getattr(datasets, loader)(as_frame=True).frame.to_csv(path)  # with pandas' row numbers, which are dropped
    data = prepare_table(path, "target")
    assert data.task == target_task and "Unnamed: 0" in data.preprocessor.dropped
    rows = table_baselines(data.task, data.X_train, data.y_train, data.X_val, data.y_val, classes=data.classes)
    assert [name for name, _ in rows] == (["logistic regression", "random forest"] if target_task == "classify"
                                          else ["ridge", "random forest"])
    for name, metrics in rows:
        assert metrics[figure] > floor, name
        assert metrics["support"] == len(data.val) and metrics["train_seconds"] >= 0
    table = format_baselines(rows).splitlines()
    assert len(table) == 3 and table[0].startswith("baseline") and table[1].startswith(rows[0][0])
    with pytest.raises(ValueError, match="no validation rows to score the baselines on"):
        table_baselines(data.task, data.X_train, data.y_train, data.X_val[:0], data.y_val[:0])
