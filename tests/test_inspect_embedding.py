"""inspect.embedding: the layers of networks trained on the 8x8 digits, drawn in 2-D;
the classes separate with depth."""
import io

import matplotlib.image
import numpy as np
import pytest
from sklearn.decomposition import PCA

from glassnet.inspect import embedding, errors, load_run, plots


@pytest.fixture(scope="module")
def cnn(digits_cnn_run):
    run = load_run(digits_cnn_run)
    test = run.dataset("test")
    return run, test.images, test.labels


@pytest.fixture(scope="module")
def mlp(digits_mlp_run):
    run = load_run(digits_mlp_run)
    test = run.dataset("test")
    return run, test.images, test.labels


def decode(fig):
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)))


def test_default_layers_are_the_input_each_activation_and_the_logits(cnn, mlp):
    # cnn: conv, bn, ReLU (2), pool, conv, bn, ReLU (6), pool, flatten, dropout, linear, ReLU (11), ...
    assert embedding.default_layers(cnn[0].model) == ["input", "2", "6", "11", "logits"]
    assert embedding.default_layers(mlp[0].model) == ["input", "2", "4", "logits"]


def test_activations_are_each_layer_flattened(cnn):
    run, images, _ = cnn
    features = embedding.activations(run, images)
    assert list(features) == ["input", "2", "6", "11", "logits"]
    n = len(images)
    # 8x8 -> 32 channels of 8x8 -> pooled to 4x4, 64 channels -> 128 hidden -> 10 classes
    assert {name: f.shape for name, f in features.items()} == {
        "input": (n, 64), "2": (n, 32 * 8 * 8), "6": (n, 64 * 4 * 4), "11": (n, 128), "logits": (n, 10)}
    assert all(f.dtype == np.float32 for f in features.values())
    np.testing.assert_array_equal(features["input"], images.reshape(n, -1))
    assert features["2"].min() == 0 and features["11"].min() == 0  # after a ReLU
    probabilities = errors.predict_proba(run, images)
    np.testing.assert_array_equal(features["logits"].argmax(axis=1), probabilities.argmax(axis=1))
    chosen = embedding.activations(run.model, images[:5], layers=["6", "logits"])
    assert list(chosen) == ["6", "logits"]
    # five images and the whole batch run different convolutions (Winograd's from 48 images
    # on): the same to float32 rounding of the layer's sums, not bit for bit
    np.testing.assert_allclose(chosen["6"], features["6"][:5], rtol=1e-5, atol=1e-5)


def test_pca_embeddings_are_scikit_learns_pca_of_each_layer(mlp):
    run, images, _ = mlp
    points = embedding.layer_embeddings(run, images)
    features = embedding.activations(run, images)
    assert list(points) == ["input", "2", "4", "logits"]
    for name, xy in points.items():
        assert xy.shape == (len(images), 2) and xy.dtype == np.float32
        expected = PCA(n_components=2, random_state=0).fit_transform(features[name])
        np.testing.assert_allclose(xy, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("network", ["cnn", "mlp"])
def test_classes_separate_with_depth(network, request):
    """The quality bar: in the 2-D picture, classes overlap at the input and pull apart
    in the last hidden layer and the logits."""
    run, images, labels = request.getfixturevalue(network)
    points = embedding.layer_embeddings(run, images)
    scores = {name: embedding.separation(xy, labels) for name, xy in points.items()}
    last_hidden = list(points)[-2]
    assert scores["input"] < 0.1
    assert scores[last_hidden] > scores["input"] + 0.1
    assert scores["logits"] > scores["input"] + 0.1


def test_tsne_separates_the_logits_more_than_the_input(cnn):
    run, images, labels = cnn
    images, labels = images[:150], labels[:150]
    points = embedding.layer_embeddings(run, images, layers=["input", "logits"], method="tsne", seed=0)
    assert {name: xy.shape for name, xy in points.items()} == {"input": (150, 2), "logits": (150, 2)}
    assert embedding.separation(points["logits"], labels) > embedding.separation(points["input"], labels) + 0.2


def test_separation_reads_from_mixed_to_apart():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 50)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    apart = centres[labels] + rng.normal(0, 0.5, (150, 2))
    mixed = rng.normal(0, 1, (150, 2))
    assert embedding.separation(apart, labels) > 0.8
    assert abs(embedding.separation(mixed, labels)) < 0.1


def test_embedding_figure_has_a_panel_per_layer_and_a_legend_of_classes(cnn):
    run, images, labels = cnn
    points = embedding.layer_embeddings(run, images[:200])
    fig = embedding.plot_embeddings(points, labels[:200], run.classes, model=run)
    panels = [axis for axis in fig.axes if axis.get_title()]
    assert len(panels) == len(points)
    assert panels[0].get_title().startswith("input\nseparation ")
    assert panels[1].get_title().startswith("layer 2 (ReLU)\nseparation ")
    separation = embedding.separation(points["logits"], labels[:200])
    assert panels[-1].get_title() == f"logits\nseparation {separation:.2f}"
    legends = [axis.get_legend() for axis in fig.axes if axis.get_legend()] + fig.legends
    assert [text.get_text() for text in legends[0].get_texts()] == run.classes
    height, width, _ = decode(fig).shape
    assert height > 400 and width > 700


def test_unknown_layers_methods_and_shapes_are_refused_with_help(cnn):
    run, images, _ = cnn
    with pytest.raises(KeyError, match=r"no layer 'relu'.*2 \(ReLU\)"):
        embedding.layer_embeddings(run, images, layers=["relu"])
    with pytest.raises(ValueError, match="choose 'pca' or 'tsne'"):
        embedding.layer_embeddings(run, images[:10], method="umap")
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        embedding.layer_embeddings(run, images.reshape(len(images), 64))
