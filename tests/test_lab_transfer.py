"""Claim ``transfer`` (glassnet.lab.transfer): a network pretrained on some classes, given a
new head and fine-tuned on a few examples of new classes, against the same network trained
from random weights on the same examples."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.data import load_dataset
from glassnet.lab import transfer
from glassnet.models import build


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def test_classes_of_keeps_those_classes_and_numbers_them_from_zero(digits):
    train, _ = digits
    new = transfer.classes_of(train, (5, 6, 7, 8, 9))
    assert new.classes == ["5", "6", "7", "8", "9"]
    assert len(new) == int(np.isin(train.labels, [5, 6, 7, 8, 9]).sum())
    assert np.array_equal(np.bincount(new.labels), np.bincount(train.labels)[5:])
    assert np.array_equal(new.images[new.labels == 0], train.images[train.labels == 5])  # 5 became class 0
    with pytest.raises(ValueError, match="classes_of: digits has classes 0 to 9"):
        transfer.classes_of(train, (8, 10))


def test_per_class_draws_k_images_of_every_class(digits):
    train, _ = digits
    five = transfer.per_class(train, 5, seed=0)
    assert np.bincount(five.labels).tolist() == [5] * 10
    assert not np.array_equal(five.images, transfer.per_class(train, 5, seed=1).images)
    assert np.array_equal(five.images, transfer.per_class(train, 5, seed=0).images)
    with pytest.raises(ValueError, match="per_class: shots"):
        transfer.per_class(train, 0)


def test_a_new_head_keeps_the_trained_layers_and_leaves_the_original_alone():
    gn.random.seed(0)
    network = build("cnn", (1, 8, 8), 5, **transfer.CNN)
    copied = transfer.with_new_head(network, 3)
    assert copied[-1].out_features == 3 and network[-1].out_features == 5
    old, new = network.state_dict(), copied.state_dict()
    head = f"{len(network) - 1}."
    for key in old:
        if not key.startswith(head):
            np.testing.assert_array_equal(old[key], new[key])
    copied[0].weight.data[...] = 0  # the copy shares no array with the original
    assert np.abs(network[0].weight.numpy()).sum() > 0
    with pytest.raises(TypeError, match="with_new_head: expects a Sequential"):
        transfer.with_new_head(nn.Linear(3, 2), 2)


def test_train_steps_takes_exactly_that_many_steps_whatever_the_sets_size():
    calls = []

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x):
            calls.append(len(x))
            return self.linear(x)

    data = gn.data.TensorDataset(np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32),
                                 np.arange(10) % 2)
    transfer.train_steps(Counting(), data, 7)
    assert calls == [10] * 7  # smaller than a batch: the whole set, seven times
    calls.clear()
    transfer.train_steps(Counting(), gn.data.TensorDataset(np.zeros((70, 4), np.float32), np.zeros(70, np.int64)), 4)
    assert calls == [32, 32, 6, 32]  # two epochs' worth of batches, stopped after the fourth


def test_the_experiment_measures_both_curves_and_reports_them_as_they_are(lab_finding):
    finding = lab_finding("transfer")
    data = finding.data
    shots, tuned, scratch = data["shots"], data["fine_tuned"], data["scratch"]
    assert shots[0] == 1 and 5 in shots and shots == sorted(shots)
    assert len(tuned) == len(scratch) == len(shots)
    assert data["pretrained_accuracy_on_old_classes"] > 0.9  # the pretrained network learned its classes
    # both learn the new classes from a few examples, better with more
    at_five = shots.index(5)
    assert min(tuned[at_five], scratch[at_five]) > data["chance"] + 0.3
    assert tuned[-1] > tuned[0] and scratch[-1] > scratch[0]
    for k in shots:  # every draw is recorded, one accuracy per network
        assert len(data["draws"][k]["fine_tuned"]) == len(data["draws"][k]["scratch"]) == data["settings"]["draws"]
    # the verdict follows the measurement, whichever way it went
    assert finding.held == (tuned[at_five] - scratch[at_five] >= data["margin"])
    assert f"fine-tuned {tuned[at_five]:.0%}" in finding.number
    assert ("did not" in finding.verdict) != finding.held


def test_the_figure_has_both_curves(lab_finding):
    axis = lab_finding("transfer").figure.axes[0]
    assert axis.get_xscale() == "log" and "examples per new class" in axis.get_xlabel()
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert any("fine-tuned" in label for label in labels) and "from random weights" in labels
