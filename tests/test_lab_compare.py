"""Deep vs traditional learning (glassnet.lab.compare), on the 8x8 digits.

One comparison is run for the whole module (about 10 s): every method on 50, 200 and
all 1438 training images, with each call to ``run_method`` recorded, so the tests can
check which images each method was given.
"""
import argparse
import io
import json

import matplotlib.image
import numpy as np
import pytest

from glassnet.lab import compare as cmp
from glassnet.inspect import plots

SIZES = (50, 200, None)
METHODS = ["mlp", "cnn", "logistic", "forest", "svm"]
FULL = 1438  # the digits training split


@pytest.fixture(scope="module")
def comparison():
    """(rows, calls, progress lines); calls maps (method, size) to the training set that method received."""
    calls, lines = {}, []
    real_run = cmp.run_method

    def recording_run(method, train, test, epochs=None, seed=0):
        calls[method, len(train)] = (train.images.copy(), train.labels.copy(), len(test))
        return real_run(method, train, test, epochs, seed)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cmp, "run_method", recording_run)
        rows = cmp.compare("digits", sizes=SIZES, svm_limit=500, progress=lines.append)
    return rows, calls, lines


def by_method(rows):
    table = {}
    for row in rows:
        table.setdefault(row.method, {})[row.train_size] = row
    return table


def test_every_method_and_size_has_a_complete_row(comparison):
    rows, _, lines = comparison
    assert [(r.method, r.train_size) for r in rows] == [(m, n) for n in (50, 200, FULL) for m in METHODS]
    for row in rows:
        assert row.kind == ("deep" if row.method in ("mlp", "cnn") else "traditional")
        assert row.test_size == 359
        if row.skipped:
            assert row.test_accuracy is None and row.train_seconds is None
        else:
            assert 0 <= row.test_accuracy <= 1 and row.train_seconds >= 0
            assert (row.epochs is not None) == (row.kind == "deep")
    assert len(lines) == len(rows)  # one progress line per method and size
    assert "mlp" in lines[0] and "n=50" in lines[0]


def test_the_svm_is_skipped_above_its_limit_and_says_why(comparison):
    svm = by_method(comparison[0])["svm"]
    assert svm[50].skipped is None and svm[200].skipped is None
    assert "500" in svm[FULL].skipped and "n^2" in svm[FULL].skipped


def test_accuracies_are_real(comparison):
    table = by_method(comparison[0])
    # Chance is 10%; on all the digits both a linear model and an MLP pass 90%.
    assert table["logistic"][FULL].test_accuracy > 0.9
    assert table["mlp"][FULL].test_accuracy > 0.9
    assert table["cnn"][FULL].test_accuracy > 0.9


def test_more_data_does_not_make_much_worse_accuracy(comparison):
    for method, runs in by_method(comparison[0]).items():
        accuracies = [runs[n].test_accuracy for n in sorted(runs) if not runs[n].skipped]
        for smaller, bigger in zip(accuracies, accuracies[1:]):
            assert bigger >= smaller - 0.03, f"{method}: {accuracies}"


def test_every_method_trains_on_the_same_subset(comparison):
    _, calls, _ = comparison
    for size in (50, 200, FULL):
        received = [calls[method, size] for method in METHODS if (method, size) in calls]
        images, labels, test_size = received[0]
        assert len(received) == (5 if size <= 500 else 4)  # the svm is skipped at FULL
        for other_images, other_labels, other_test_size in received[1:]:
            np.testing.assert_array_equal(other_images, images)
            np.testing.assert_array_equal(other_labels, labels)
            assert other_test_size == test_size


def test_subsets_are_fixed_by_the_seed_and_nested():
    first, again = cmp.training_subset(1000, 100, seed=0), cmp.training_subset(1000, 100, seed=0)
    other = cmp.training_subset(1000, 100, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    np.testing.assert_array_equal(cmp.training_subset(1000, 300, 0)[:100], first)
    assert len(set(first.tolist())) == 100  # no image twice


def test_small_sets_get_more_epochs():
    assert cmp.epochs_for(100) > cmp.epochs_for(1000) > cmp.epochs_for(60000) == cmp.MIN_EPOCHS
    for size in (100, 1000, 3000):  # comparable step counts: at least MIN_STEPS each
        assert cmp.epochs_for(size) * -(-size // cmp.BATCH_SIZE) >= cmp.MIN_STEPS


def test_the_plot_decodes_to_an_image(comparison):
    png = plots.to_png(cmp.plot_compare(comparison[0], title="digits"))
    image = matplotlib.image.imread(io.BytesIO(png))
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400


def test_the_table_has_every_method_and_size(comparison):
    table = cmp.format_table(comparison[0])
    assert "test accuracy" in table and "seconds to train" in table
    for name in METHODS + ["1,438"]:
        assert name in table
    assert "svm at 1,438" in table  # the skipped run is explained


def test_json_round_trips(comparison):
    data = json.loads(cmp.to_json(comparison[0], dataset="digits"))
    assert data["dataset"] == "digits" and len(data["results"]) == 15
    assert data["results"][0]["method"] == "mlp"


@pytest.mark.parametrize("options, words", [
    ({"models": ("mlp", "resnet1000")}, ["'resnet1000'", "cnn", "mlp", "vit"]),
    ({"baselines": ("knn",)}, ["'knn'", "forest", "logistic", "svm"]),
    ({"dataset": "cifar"}, ["'cifar'", "digits", "fashion-mnist"]),
    ({"sizes": (100, 5000)}, ["5000", "1438"]),
])
def test_bad_input_says_what_is_valid(options, words):
    with pytest.raises(ValueError) as error:
        cmp.compare(**{"dataset": "digits", "progress": None, **options})
    for word in words:
        assert word in str(error.value)


def test_the_command_writes_the_table_picture_and_json(tmp_path, capsys):
    parser = cmp.add_compare_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--dataset", "digits", "--sizes", "60,all", "--models", "mlp", "--baselines", "logistic",
                              "--epochs", "2", "--out", str(tmp_path)])
    assert args.sizes == [60, None]
    assert cmp.compare_command(args) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "logistic" in printed
    assert matplotlib.image.imread(tmp_path / "compare.png").ndim == 3
    results = json.loads((tmp_path / "compare.json").read_text())["results"]
    assert [(r["method"], r["train_size"], r["epochs"]) for r in results] == [
        ("mlp", 60, 2), ("logistic", 60, None), ("mlp", FULL, 2), ("logistic", FULL, None)]
    with pytest.raises(SystemExit):
        parser.parse_args(["--sizes", "100,lots"])


def test_compare_lives_in_the_lab_not_in_inspect():
    import glassnet as gn

    assert gn.lab.compare is cmp and gn.lab.Result is cmp.Result and gn.lab.plot_compare is cmp.plot_compare
    assert not hasattr(gn.inspect, "compare") and not hasattr(gn.inspect, "plot_compare")
