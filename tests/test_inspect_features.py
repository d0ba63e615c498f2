"""What a trained network learned: first-layer templates, conv filters, feature maps and
the inputs that excite a unit, on the cnn and mlp trained on the 8x8 digits (conftest)."""
import io

import matplotlib.image
import numpy as np
import pytest

import glassnet as gn
from glassnet.inspect import load_run, plots
from glassnet.inspect.features import (
    conv_filters, edge_score, feature_maps, first_layer_weights, plot_feature_maps, plot_filters,
    plot_top_activating, plot_weights, top_activating,
)


def initial_model(name, input_shape=(1, 8, 8)):
    """The network as ``glassnet train --seed 0`` built it, before any step."""
    gn.seed(0)
    return gn.models.build(name, input_shape, 10)


def png_shape(fig):
    """(height, width) in pixels of the figure drawn as a PNG at 100 dpi."""
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)), format="png").shape[:2]


@pytest.fixture(scope="module")
def cnn(digits_cnn_run):
    return load_run(digits_cnn_run)


@pytest.fixture(scope="module")
def mlp(digits_mlp_run):
    return load_run(digits_mlp_run)


@pytest.fixture(scope="module")
def test_set(cnn):
    return cnn.dataset("test")


# -- first-layer weights -------------------------------------------------------------------------


def test_first_layer_weights_are_the_rows_of_the_mlps_first_linear_as_images(mlp):
    weights = first_layer_weights(mlp)
    assert weights.shape == (128, 8, 8) and weights.dtype == np.float32
    np.testing.assert_array_equal(weights.reshape(128, 64), mlp.model[1].weight.data)
    # a bare model: the square image is inferred from the 64 inputs
    np.testing.assert_array_equal(first_layer_weights(mlp.model), weights)


def test_pixels_that_are_dark_in_every_training_image_keep_their_initial_weights(mlp):
    # A weight's gradient is its input times the unit's error: a pixel that is 0 in every
    # training image never moves its weights (Adam steps by m / (sqrt(v) + eps) = 0).
    # Every other pixel's weights were trained.
    trained, initial = first_layer_weights(mlp), first_layer_weights(initial_model("mlp"))
    always_dark = (mlp.dataset("train").images[:, 0] == 0).all(axis=0)  # (8, 8)
    assert 1 <= always_dark.sum() <= 10  # the corners and the edge columns
    np.testing.assert_array_equal(trained[:, always_dark], initial[:, always_dark])
    changed = np.abs(trained - initial).mean(axis=0)  # (8, 8)
    assert (changed[~always_dark] > 1e-3).all()


def test_first_layer_weights_of_a_cnn_points_to_conv_filters(cnn):
    with pytest.raises(ValueError, match=r"first weighted layer should be a Linear.*'0' \(Conv2d\).*conv_filters"):
        first_layer_weights(cnn)


def test_first_layer_weights_needs_the_image_shape_when_it_is_not_square():
    model = gn.models.mlp((1, 4, 6), 10, hidden=(16,))
    with pytest.raises(ValueError, match=r"24 inputs, not a square image; help: pass input_shape"):
        first_layer_weights(model)
    assert first_layer_weights(model, input_shape=(1, 4, 6)).shape == (16, 4, 6)
    assert first_layer_weights(gn.models.mlp((3, 4, 4), 10, hidden=(16,)), (3, 4, 4)).shape == (16, 3, 4, 4)


# -- conv filters and the edge score -------------------------------------------------------------


def test_conv_filters_of_the_first_or_a_named_convolution(cnn):
    filters = conv_filters(cnn)
    assert filters.shape == (32, 1, 3, 3)
    np.testing.assert_array_equal(filters, cnn.model[0].weight.data)
    assert conv_filters(cnn, "4").shape == (64, 32, 3, 3)
    filters[0] = 0  # a copy: the model keeps its weights
    assert np.abs(cnn.model[0].weight.data[0]).sum() > 0


def test_conv_filters_errors_name_the_layers(cnn, mlp):
    with pytest.raises(ValueError, match=r"mlp \(Sequential\) has no Conv2d layer; its layers"
                       r" are: 0 \(Flatten\), 1 \(Linear\)"):
        conv_filters(mlp)
    with pytest.raises(ValueError, match=r"layer '1' of cnn is a BatchNorm2d, not a"
                       r" Conv2d; its Conv2d layers are: 0, 4"):
        conv_filters(cnn, "1")
    with pytest.raises(KeyError, match=r"no layer 'conv1'; its layers are: 0 \(Conv2d\),"
                       r" 1 \(BatchNorm2d\), 2 \(ReLU\)"):
        conv_filters(cnn, "conv1")


def test_edge_score_of_known_filters():
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    step = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], dtype=np.float32)
    assert edge_score(sobel) == pytest.approx(0.943, abs=1e-3)  # 8 / sqrt(12 * 6) against the ramp
    assert edge_score(sobel.T) == pytest.approx(edge_score(sobel))  # any orientation
    assert edge_score(step) == pytest.approx(1.0)  # in the bank itself
    assert edge_score(-3 * step + 5) == pytest.approx(1.0)  # neither sign, scale nor brightness counts
    assert edge_score(np.ones((4, 3, 3))) == 0.0  # flat: no edge at all
    checkerboard = np.indices((3, 3)).sum(axis=0) % 2 * 2 - 1.0
    assert edge_score(checkerboard) < 0.2
    random_filters = np.random.default_rng(0).standard_normal((2000, 3, 3))
    assert 0.5 < edge_score(random_filters) < 0.56  # the chance level for 3x3 filters
    with pytest.raises(ValueError, match=r"kh, kw >= 2, got \(3, 1\)"):
        edge_score(np.ones((3, 1)))


def test_trained_cnn_filters_are_not_the_random_initial_ones(cnn):
    # Measured (seed 0, 10 epochs): the filters moved by 16% of their initial size; their
    # edge score is 0.472, the initial filters' 0.482, random 3x3 filters' 0.53 +- 0.03 (for
    # 32 of them). On 8x8 digits, where a 3x3 filter covers a third of the image, the first
    # convolution does not become an edge detector: see the Fashion-MNIST test below for
    # where it does.
    trained, initial = conv_filters(cnn), conv_filters(initial_model("cnn"))
    change = np.linalg.norm(trained - initial) / np.linalg.norm(initial)
    assert 0.1 < change < 0.3
    assert not np.allclose(trained, initial, atol=1e-2)
    assert abs(edge_score(trained) - edge_score(initial)) < 0.05


@pytest.mark.data
def test_what_training_adds_to_the_first_filters_is_edge_detectors_on_fashion_mnist():
    # On 28x28 photos the change that one epoch on 2,000 images makes to the cnn's 3x3
    # filters correlates with oriented edges far above chance (measured 0.66; random
    # filters: 0.53 +- 0.03, 99th percentile 0.60), while the filters as a whole are
    # still mostly their random start (0.49 against 0.48 at initialization).
    try:
        train = gn.datasets.fashion_mnist("train", download=False)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not on this machine; `apt-get install dataset-fashion-mnist`")
    subset = gn.datasets.ImageDataset(train.images[:2000], train.labels[:2000], train.classes, "fashion-mnist")
    model = initial_model("cnn", (1, 28, 28))
    initial = conv_filters(model)
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    loader = gn.data.DataLoader(subset, batch_size=32, shuffle=True, seed=0)
    gn.train.fit(model, loader, optimizer, epochs=1, progress=False, out=io.StringIO())
    learned = conv_filters(model) - initial
    assert edge_score(learned) > 0.6
    assert edge_score(learned) > edge_score(initial) + 0.1


# -- activations ---------------------------------------------------------------------------------


def test_feature_maps_of_every_layer_for_one_image(cnn, test_set):
    image = test_set.images[0]
    maps = feature_maps(cnn, image)
    assert list(maps) == [str(i) for i in range(14)]  # every layer of the Sequential, in order
    shapes = {name: value.shape for name, value in maps.items()}
    assert shapes["0"] == (32, 8, 8) and shapes["3"] == (32, 4, 4) and shapes["7"] == (64, 2, 2)
    assert shapes["8"] == (256,) and shapes["13"] == (10,)
    np.testing.assert_array_equal(maps["2"], np.maximum(maps["1"], 0))  # the ReLU after the BatchNorm
    with gn.no_grad():
        logits = cnn.model(gn.tensor(image[None])).data[0]
    np.testing.assert_allclose(maps["13"], logits, rtol=1e-5, atol=1e-6)
    assert list(feature_maps(cnn, image[None], layers=["4"])) == ["4"]


def test_feature_maps_runs_in_eval_mode_and_restores_the_mode(cnn, test_set):
    cnn.model.train()
    try:
        first = feature_maps(cnn, test_set.images[1], ["12"])["12"]
        again = feature_maps(cnn, test_set.images[1], ["12"])["12"]
        np.testing.assert_array_equal(first, again)  # no dropout
        assert cnn.model.training
    finally:
        cnn.model.eval()


def test_feature_maps_errors(cnn, test_set):
    with pytest.raises(ValueError, match=r"cnn takes images of shape \(N, 1, 8, 8\), got"
                       r" an array of shape \(1, 28, 28\)"):
        feature_maps(cnn, np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match=r"one image \(C, H, W\), got 2 images"):
        feature_maps(cnn, test_set.images[:2])
    with pytest.raises(KeyError, match=r"no layer 'fc'; its layers are: 0 \(Conv2d\)"):
        feature_maps(cnn, test_set.images[0], layers=["fc"])


def test_the_images_that_excite_a_class_output_most_are_of_that_class(cnn, test_set):
    for digit in (0, 3, 8):
        indices, values = top_activating(cnn, test_set.images, "13", unit=digit, k=9)
        assert indices.shape == values.shape == (9,)
        assert (test_set.labels[indices] == digit).all()
        assert (np.diff(values) <= 0).all()


def test_top_activating_a_conv_channel_ranks_by_its_mean_over_positions(cnn, test_set):
    images = test_set.images[:50]
    indices, values = top_activating(cnn, images, "2", unit=5, k=4)
    means = np.array([feature_maps(cnn, image, ["2"])["2"][5].mean() for image in images])
    np.testing.assert_array_equal(indices, np.argsort(-means, kind="stable")[:4])
    np.testing.assert_allclose(values, means[indices], rtol=1e-5)
    with pytest.raises(ValueError, match=r"layer '2' \(ReLU\) has 32 channels "
                       r"\(output \(32, 8, 8\) per image\), got unit 40"):
        top_activating(cnn, images, "2", unit=40)


# -- figures -------------------------------------------------------------------------------------


def test_plot_weights_draws_a_grid_of_unit_templates(mlp):
    fig = plot_weights(first_layer_weights(mlp), max_units=16)  # of 128 units
    titles = [axis.get_title() for axis in fig.axes]
    assert len(fig.axes) == 16 and titles[0] == "unit 0" and titles[-1] == "unit 15"
    assert tuple(fig.get_size_inches()) == pytest.approx((9.6, 2.8))  # 2 rows of 8 images of 1.2 inches, a title
    height, width = png_shape(fig)
    assert 200 < height < 280 and 700 < width < 960
    with pytest.raises(ValueError, match=r"\(units, H, W\), got \(4, 64\)"):
        plot_weights(np.zeros((4, 64)))


def test_plot_filters_titles_each_filter_with_its_edge_score(cnn):
    filters = conv_filters(cnn)
    fig = plot_filters(filters, max_filters=16)
    assert len(fig.axes) == 16  # 2 rows of 8
    assert fig.axes[3].get_title() == f"3: edge {edge_score(filters[3]):.2f}"
    height, width = png_shape(fig)
    assert 200 < height < 300 and 700 < width < 960
    assert "input channel 0 of 32" in plot_filters(conv_filters(cnn, "4"), max_filters=2)._suptitle.get_text()


def test_plot_feature_maps_shows_one_row_per_layer_with_maps(cnn, test_set):
    image = test_set.images[0]
    maps = feature_maps(cnn, image, layers=["2", "6", "7", "10"])
    fig = plot_feature_maps(maps, image=image, channels=4)
    assert len(fig.axes) == 3 * 5  # layers 2, 6 and 7 have maps (10 is a Linear): the input and 4 channels
    titles = [axis.get_title() for axis in fig.axes]
    assert titles[0] == "input" and titles[1] == "2: (32, 8, 8) ch 0" and titles[11] == "7: (64, 2, 2) ch 0"
    height, width = png_shape(fig)
    assert 350 < height < 500 and 450 < width < 650  # 3 rows of 5 panels of 1.3 x 1.4 inches, trimmed
    with pytest.raises(ValueError, match=r"no layer outputs images.*1 \(128,\)"):
        plot_feature_maps(feature_maps(initial_model("mlp"), image))


def test_plot_top_activating_names_the_classes(cnn, test_set):
    indices, values = top_activating(cnn, test_set.images, "13", unit=7, k=5)
    fig = plot_top_activating(test_set.images, indices, values, test_set.labels, cnn.classes)
    titles = [axis.get_title() for axis in fig.axes]
    assert len(titles) == 5 and all(title.endswith("(7)") for title in titles)
    assert titles[0] == f"{values[0]:.2f} (7)"
    height, width = png_shape(fig)
    assert width > 3 * height  # one row of 5
