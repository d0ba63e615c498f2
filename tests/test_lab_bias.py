"""Claim ``bias`` (glassnet.lab.bias): a class made rare in the training data is recognized
far less often than when balanced; re-weighting and re-sampling narrow the gap."""
import numpy as np
import pytest

from glassnet.data import load_dataset
from glassnet.lab import bias, claims


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def test_make_rare_keeps_a_few_images_of_one_class_and_all_of_the_others(digits):
    train, _ = digits
    rare = bias.make_rare(train, 3, 0.05, seed=0)
    before, after = np.bincount(train.labels), np.bincount(rare.labels)
    assert after[3] == round(0.05 * before[3]) and np.array_equal(np.delete(after, 3), np.delete(before, 3))
    kept = rare.images[rare.labels == 3]
    originals = train.images[train.labels == 3]
    assert all(any(np.array_equal(image, original) for original in originals) for image in kept)
    assert len(bias.make_rare(train, 3, 0.0001).labels[bias.make_rare(train, 3, 0.0001).labels == 3]) == 2
    with pytest.raises(ValueError, match="make_rare: fraction"):
        bias.make_rare(train, 3, 0)
    with pytest.raises(ValueError, match="make_rare: rare_class"):
        bias.make_rare(train, 10)


def test_inverse_frequency_weights_make_every_class_weigh_the_same():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    weights = bias.inverse_frequency_weights(labels, 4)
    counts = np.bincount(labels, minlength=4)
    np.testing.assert_allclose(weights[:3] * counts[:3], np.full(3, weights[0] * 90), rtol=1e-6)  # equal totals
    np.testing.assert_allclose((weights[labels]).mean(), 1.0, rtol=1e-6)  # the loss keeps its size
    assert weights[3] == 0 and weights.dtype == np.float32


def test_oversample_repeats_the_rare_images_up_to_an_average_class(digits):
    rare = bias.make_rare(digits[0], 2, 0.03, seed=0)
    balanced = bias.oversample(rare, seed=0)
    counts = np.bincount(balanced.labels)
    assert counts[2] == round(np.bincount(rare.labels).mean())
    assert np.array_equal(np.delete(counts, 2), np.delete(np.bincount(rare.labels), 2))
    repeated = balanced.images[balanced.labels == 2]
    assert len(np.unique(repeated.reshape(len(repeated), -1), axis=0)) == np.bincount(rare.labels)[2]


def test_per_class_accuracy_is_each_classes_recall():
    logits = np.eye(3)[[0, 1, 1, 2, 0]]
    np.testing.assert_allclose(bias.per_class_accuracy(logits, np.array([0, 1, 2, 2, 2]), 3), [1.0, 1.0, 1 / 3])


def check_bias(data):
    """The direction of the effect in a finding's data, on any data set."""
    rare, others = data["rare_accuracy"], data["others_accuracy"]
    # the rare class falls far below its balanced accuracy while the other classes hold
    assert rare["rare"] < rare["balanced"] - 0.3
    assert others["rare"] > others["balanced"] - 0.05
    # both remedies give some of it back
    assert rare["re-weighted"] > rare["rare"] + 0.1 and rare["re-sampled"] > rare["rare"] + 0.1
    assert data["gap_closed"]["re-weighted"] > 0 and data["gap_closed"]["re-sampled"] > 0
    counts = data["train_counts"]
    rare_class = data["rare_class"]
    assert counts["rare"][rare_class] <= 0.05 * counts["balanced"][rare_class] + 1
    assert counts["re-sampled"][rare_class] > 10 * counts["rare"][rare_class]


def test_the_rare_class_is_learned_badly_and_the_remedies_narrow_the_gap(lab_finding):
    finding = lab_finding("bias")
    check_bias(finding.data)
    assert finding.held and finding.data["gap"] >= bias.GAP
    assert finding.data["rare_name"] in finding.verdict and "re-weighted" in finding.verdict
    assert set(finding.data["per_class_accuracy"]) == set(bias.RUNS)


def test_the_effect_holds_on_the_digits_too(digits, monkeypatch):
    monkeypatch.setattr(claims, "image_data", lambda prefer, quick=False: ("digits", *digits))
    finding = bias.run(quick=True)
    assert finding.data["dataset"] == "digits" and finding.data["rare_name"] == "2"
    check_bias(finding.data)
    assert finding.held


def test_the_figure_shows_every_class_for_every_run(lab_finding):
    finding = lab_finding("bias")
    bars, summary = finding.figure.axes
    assert len(bars.containers) == len(bias.RUNS)  # one group of bars per run
    assert all(len(group) == len(finding.data["classes"]) for group in bars.containers)
    assert len(summary.get_lines()) == 2 and "accuracy" in bars.get_ylabel()


def test_the_rare_classes_test_images_are_taken_for_other_classes(lab_finding):
    data = lab_finding("bias").data
    rare_class, taken_for = data["rare_class"], data["rare_taken_for"]
    total = sum(taken_for["balanced"])
    assert all(sum(counts) == total for counts in taken_for.values())  # every test image of the rare class
    assert taken_for["rare"][rare_class] / total == pytest.approx(data["rare_accuracy"]["rare"])
    assert data["mistaken_for"] != data["rare_name"] and data["mistaken_for"] in data["classes"]
