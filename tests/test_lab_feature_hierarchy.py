"""The feature-hierarchy claim: edges first, objects last, against the untrained twin."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.inspect import features
from glassnet.lab import claims, feature_hierarchy


def check_direction(finding):
    data = finding.data
    edges = data["edge_score"]
    # what training changed in the first-layer filters is more edge-like than the same values in random places
    assert edges["change"] > edges["change_shuffled"] + feature_hierarchy.EDGE_MARGIN
    low, high = {"3x3": (0.4, 0.6), "5x5": (0.2, 0.4)}[edges["filter_size"]]  # chance: higher for smaller filters
    assert low < edges["change_shuffled"] < high and 0.15 < edges["untrained"] < 0.7
    # LeNet-5's 5x5 filters where the images are large enough (28x28), the cnn's 3x3 on the 8x8 digits
    assert edges["network"] == ("lenet5" if data["dataset"] != "digits" else "cnn")
    assert 0 < edges["relative_change"] < 1  # the filters moved, and stayed near where they began
    trained, untrained = data["separation"]["trained"], data["separation"]["untrained"]
    assert data["depths"] == ["input", "conv block 1", "conv block 2", "last hidden layer"]
    assert trained[0] == pytest.approx(untrained[0])  # the pixels are the same for both
    assert trained[-1] > trained[0] + 0.1 and trained[-1] == max(trained)
    assert trained[-1] > untrained[-1] + 0.1  # training, not the architecture, separates the classes
    purity = data["purity"]["trained"]
    assert purity[0] is None and purity[-1] > purity[1] + 0.2
    assert finding.held and finding.data["edges_learned"] and finding.data["separation_rises"]


def test_quick_run_shows_edges_then_objects(lab_finding):
    finding = lab_finding("feature-hierarchy")
    check_direction(finding)
    assert finding.figure is not None and len(finding.figure.axes) > 10
    assert "edge score" in finding.number and finding.verdict


def test_the_claim_holds_on_the_digits_too(lab_on_digits):
    finding = feature_hierarchy.run(quick=True, seed=0)
    assert finding.data["dataset"] == "digits"
    check_direction(finding)


def test_depth_layers_of_the_cnn():
    assert feature_hierarchy.depth_layers(gn.models.cnn((1, 8, 8), 10)) == [
        ("input", "input"), ("conv block 1", "3"), ("conv block 2", "7"), ("last hidden layer", "11")]
    with pytest.raises(ValueError, match="depth_layers"):
        feature_hierarchy.depth_layers(gn.models.mlp((1, 8, 8), 10))


def test_receptive_field_grows_with_kernels_and_strides():
    network = gn.models.cnn((1, 28, 28), 10)
    assert feature_hierarchy.receptive_field(network, "0") == (3, 1, -1)
    assert feature_hierarchy.receptive_field(network, "2") == (3, 1, -1)  # batch norm and ReLU see what the conv saw
    assert feature_hierarchy.receptive_field(network, "3") == (4, 2, -1)
    assert feature_hierarchy.receptive_field(network, "7") == (10, 4, -3)
    with pytest.raises(ValueError, match="Flatten"):
        feature_hierarchy.receptive_field(network, "10")
    with pytest.raises(KeyError, match="no layer"):
        feature_hierarchy.receptive_field(network, "99")


def dot_detector(pool):
    """A conv whose one filter is 1 at its centre: it fires where a pixel is bright."""
    layers = [gn.nn.Conv2d(1, 1, 3, padding=1)] + ([gn.nn.MaxPool2d(2)] if pool else [])
    network = gn.nn.Sequential(*layers)
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    kernel[0, 0, 1, 1] = 1.0
    network.load_state_dict({"0.weight": kernel, "0.bias": np.zeros(1, dtype=np.float32)})
    return network


def test_top_patches_cut_out_what_the_unit_saw():
    images = np.zeros((3, 1, 8, 8), dtype=np.float32)
    images[0, 0, 5, 2], images[1, 0, 0, 7], images[2, 0, 3, 3] = 0.5, 1.0, 0.2  # one bright dot each
    patches, order, values = feature_hierarchy.top_patches(dot_detector(pool=False), images, "0", unit=0, k=3)
    assert order.tolist() == [1, 0, 2] and values.tolist() == pytest.approx([1.0, 0.5, 0.2])
    assert patches.shape == (3, 1, 3, 3)
    # each patch is centred on its dot; the corner dot's patch reaches past the image (zeros)
    assert patches[:, 0, 1, 1].tolist() == pytest.approx([1.0, 0.5, 0.2])
    assert patches.sum() == pytest.approx(1.7)
    pooled, _, _ = feature_hierarchy.top_patches(dot_detector(pool=True), images, "1", unit=0, k=3)
    assert pooled.shape == (3, 1, 4, 4) and pooled.sum() == pytest.approx(1.7)  # the dots are inside the 4x4 fields
    with pytest.raises(ValueError, match="channels"):
        feature_hierarchy.top_patches(dot_detector(pool=False), images, "0", unit=1)


def test_shuffled_edge_score_is_chance():
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    assert features.edge_score(sobel) > 0.9
    assert feature_hierarchy.shuffled_edge_score(np.stack([sobel, sobel.T]), shuffles=50) < 0.75
    noise = np.random.default_rng(0).standard_normal((200, 3, 3))
    assert feature_hierarchy.shuffled_edge_score(noise) == pytest.approx(features.edge_score(noise), abs=0.03)


def test_class_purity():
    labels = np.array([0, 0, 1, 1, 2, 2])
    one_class_each = np.array([[5, 0], [4, 0], [0, 5], [0, 4], [1, 1], [1, 1]], dtype=float)
    assert feature_hierarchy.class_purity(one_class_each, labels, k=2) == 1.0
    mixed = np.array([[5.0], [0.0], [4.0], [0.0], [3.0], [0.0]])  # its top 3 are of three classes
    assert feature_hierarchy.class_purity(mixed, labels, k=3) == pytest.approx(1 / 3)
    dead = np.column_stack([one_class_each[:, 0], np.zeros(6)])  # a dead unit is left out
    assert feature_hierarchy.class_purity(dead, labels, k=2) == 1.0
    with pytest.raises(ValueError, match="class_purity"):
        feature_hierarchy.class_purity(one_class_each, labels[:3])
    with pytest.raises(ValueError, match="k must be"):
        feature_hierarchy.class_purity(one_class_each, labels, k=7)
