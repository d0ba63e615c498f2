"""The ``linear-depth`` claim: a stack of linear layers is one linear map; ReLU makes depth pay."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import load_dataset
from glassnet.lab import linear_depth


def test_quick_run_deep_linear_is_one_layer_and_relu_beats_both(lab_finding):
    finding = lab_finding("linear-depth")
    moons = finding.data["moons"]
    depths, linear, relu = moons["depths"], moons["accuracy"]["linear"], moons["accuracy"]["relu"]
    one_layer = linear[depths.index(1)]
    assert finding.held, finding.verdict
    assert depths == [1, 2, 4, 8]
    for depth, accuracy in zip(depths, linear):
        assert abs(accuracy - one_layer) <= 0.01, f"{depth} linear layers: {accuracy} vs one layer {one_layer}"
    deep_relu = max(relu[1:])
    assert deep_relu > max(linear) + 0.05  # on the moons the bend is worth many points
    assert one_layer < 0.92 and deep_relu > 0.95
    assert moons["collapse"]["relative_difference"] < 1e-5
    assert finding.figure is not None


def test_collapse_gives_the_stacks_outputs():
    gn.random.seed(0)
    network = linear_depth.stack(4, 5, 3, width=7, activation=False)
    inputs = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    weight, bias = linear_depth.collapse(network)
    assert weight.shape == (3, 5) and bias.shape == (3,)
    np.testing.assert_allclose(gn.train.predict(network, inputs), inputs @ weight.T + bias, rtol=1e-5, atol=1e-6)
    check = linear_depth.collapse_check(network, inputs)
    assert check["relative_difference"] < 1e-5 and check["weight_shape"] == [3, 5]


def test_collapse_refuses_a_network_with_an_activation():
    with pytest.raises(TypeError, match="collapse: only a stack of Linear layers.*layer 2 is ReLU"):
        linear_depth.collapse(linear_depth.stack(2, 2, 2, width=3, activation=True))
    with pytest.raises(ValueError, match="depth must be a whole number"):
        linear_depth.stack(0, 2, 2)


def test_moons_are_reproducible_and_balanced():
    points, labels = linear_depth.moons(1000, seed=4)
    again, _ = linear_depth.moons(1000, seed=4)
    np.testing.assert_array_equal(points, again)
    assert points.shape == (1000, 2) and points.dtype == np.float32
    assert 0.4 < labels.mean() < 0.6
    assert np.abs(points.mean(axis=0)).max() < 0.2  # centred
    with pytest.raises(ValueError, match="count must be at least 1"):
        linear_depth.moons(0)


def test_the_image_path_collapses_a_stack_trained_on_the_digits():
    """The full run's image data set is Fashion-MNIST, or the digits where it is absent: a
    linear stack trained on images (through Flatten) collapses all the same."""
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    accuracies, networks = linear_depth.depth_sweep(train, test, 64, 10, depths=(1, 4), width=32, epochs=1,
                                                    lr=1e-2, batch_size=64)
    assert set(accuracies) == {"linear", "relu"} and len(accuracies["linear"]) == 2
    assert min(accuracies["linear"]) > 0.5  # one pass already far above the digits' 10% chance
    check = linear_depth.collapse_check(networks[("linear", 4)], test.images[:100])
    assert check["weight_shape"] == [10, 64] and check["relative_difference"] < 1e-5
    verdict = linear_depth.judge(accuracies, [1, 4], check["relative_difference"])
    assert verdict["collapses"] and set(verdict) >= {"held", "linear_adds_nothing", "relu_beats_linear"}


def test_standardized_images_are_centred_flat_vectors():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    flat_train, flat_test = linear_depth.standardized(train, test)
    inputs = flat_train.arrays[0]
    assert inputs.shape == (len(train), 64) and flat_test.arrays[0].shape == (len(test), 64)
    assert np.abs(inputs.mean(axis=0)).max() < 1e-4
    assert inputs.std(axis=0).max() < 1.0  # the spread plus 0.1: never blown up
    np.testing.assert_array_equal(flat_test.arrays[1], test.labels)
