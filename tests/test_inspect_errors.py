"""inspect.errors: probabilities, the confusion matrix, per-class scores and the confident
mistakes of a CNN trained on the 8x8 digits, checked against scikit-learn."""
import io

import matplotlib.image
import numpy as np
import pytest
from sklearn.metrics import classification_report

import glassnet as gn
from glassnet.inspect import errors, load_run, plots


@pytest.fixture(scope="module")
def cnn(digits_cnn_run):
    """(run, test images, test labels, probabilities, predictions)."""
    run = load_run(digits_cnn_run)
    test = run.dataset("test")
    probabilities = errors.predict_proba(run, test.images)
    return run, test.images, test.labels, probabilities, probabilities.argmax(axis=1)


def decode(fig):
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)))


def test_probabilities_are_a_softmax_and_give_the_trained_accuracy(cnn):
    run, images, labels, probabilities, predictions = cnn
    assert probabilities.shape == (len(images), 10) and probabilities.dtype == np.float32
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    accuracy = (predictions == labels).mean()
    assert accuracy == pytest.approx(run.history[-1]["val_acc"])  # the CLI's own test score
    assert accuracy > 0.95


def test_probabilities_come_from_eval_mode_and_leave_the_mode_alone(cnn):
    run, images, _, probabilities, _ = cnn
    run.model.train()  # dropout on, batch norm on batch statistics: predictions would change
    try:
        again = errors.predict_proba(run.model, images[:50], batch_size=16)
        assert run.model.training
    finally:
        run.model.eval()
    np.testing.assert_allclose(again, probabilities[:50], rtol=1e-5, atol=1e-6)


def test_confusion_matrix_counts_every_image_once(cnn):
    _, images, labels, _, predictions = cnn
    matrix = errors.confusion(labels, predictions, 10)
    assert matrix.shape == (10, 10)
    assert matrix.sum() == len(images)
    assert np.trace(matrix) == (predictions == labels).sum()
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(predictions, minlength=10))
    true, predicted = labels[predictions != labels][0], predictions[predictions != labels][0]
    assert matrix[true, predicted] == ((labels == true) & (predictions == predicted)).sum()


def test_confusion_keeps_classes_that_never_occur():
    matrix = errors.confusion(np.array([0, 0, 2]), np.array([0, 2, 2]), num_classes=4)
    assert matrix.tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_per_class_report_agrees_with_sklearn_classification_report(cnn):
    run, _, labels, _, predictions = cnn
    report = errors.per_class_report(labels, predictions, run.classes)
    expected = classification_report(labels, predictions, target_names=run.classes, output_dict=True)
    assert report["classes"] == run.classes
    for index, name in enumerate(run.classes):
        assert report["precision"][index] == pytest.approx(expected[name]["precision"])
        assert report["recall"][index] == pytest.approx(expected[name]["recall"])
        assert report["f1"][index] == pytest.approx(expected[name]["f1-score"])
        assert report["support"][index] == expected[name]["support"]
    assert report["accuracy"] == pytest.approx(expected["accuracy"])
    # a class's recall is its own accuracy
    for digit in range(10):
        assert report["recall"][digit] == pytest.approx((predictions[labels == digit] == digit).mean())


def test_a_class_never_predicted_has_precision_zero_without_warnings():
    report = errors.per_class_report(np.array([0, 1, 1]), np.array([0, 0, 0]), ["a", "b"])
    assert report["precision"].tolist() == [pytest.approx(1 / 3), 0.0]
    assert report["recall"].tolist() == [1.0, 0.0]


def test_confident_mistakes_are_wrong_and_surest_first(cnn):
    _, _, labels, probabilities, predictions = cnn
    wrong = (predictions != labels).sum()
    assert 0 < wrong < 20  # a good model makes a few mistakes
    indices, predicted, confidence = errors.confident_mistakes(probabilities, labels, k=5)
    assert len(indices) == min(5, wrong)
    assert np.all(labels[indices] != predicted)
    np.testing.assert_array_equal(predicted, predictions[indices])
    np.testing.assert_array_equal(confidence, probabilities[indices].max(axis=1))
    assert np.all(np.diff(confidence) <= 0)
    # no mistake outside the list is surer than the last one in it
    others = np.setdiff1d(np.flatnonzero(predictions != labels), indices)
    assert np.all(probabilities[others].max(axis=1) <= confidence[-1])
    everything, _, _ = errors.confident_mistakes(probabilities, labels, k=1000)
    assert len(everything) == wrong


def test_confident_mistakes_of_a_perfect_model_is_empty():
    probabilities = np.eye(3, dtype=np.float32)
    indices, predicted, confidence = errors.confident_mistakes(probabilities, np.arange(3))
    assert len(indices) == len(predicted) == len(confidence) == 0


def test_confusion_figure_names_the_classes_on_both_axes(cnn):
    run, _, labels, _, predictions = cnn
    matrix = errors.confusion(labels, predictions, 10)
    for normalize in (False, True):
        fig = errors.plot_confusion(matrix, run.classes, normalize=normalize)
        axis = fig.axes[0]
        assert (axis.get_xlabel(), axis.get_ylabel()) == ("predicted", "true")
        assert [t.get_text() for t in axis.get_xticklabels()] == run.classes
        assert [t.get_text() for t in axis.get_yticklabels()] == run.classes
        shown = axis.images[0].get_array()
        if normalize:  # each true class's row is a distribution
            np.testing.assert_allclose(shown.sum(axis=1), 1)
        else:
            np.testing.assert_array_equal(shown, matrix)
        height, width, _ = decode(fig).shape
        assert height > 300 and width > 300


def test_per_class_and_mistake_figures_decode(cnn):
    run, images, labels, probabilities, predictions = cnn
    fig = errors.plot_per_class(errors.per_class_report(labels, predictions, run.classes))
    assert len(fig.axes[0].patches) == 20  # a precision bar and a recall bar per class
    height, width, _ = decode(fig).shape
    assert height > 250 and width > 400

    fig = errors.plot_mistakes(images, labels, probabilities, run.classes, k=4)
    indices, predicted, confidence = errors.confident_mistakes(probabilities, labels, k=4)
    titles = [axis.get_title() for axis in fig.axes if axis.get_title()]
    assert titles[0] == f"{run.classes[labels[indices[0]]]} → {run.classes[predicted[0]]} ({confidence[0]:.2f})"
    assert len(titles) == len(indices)
    height, width, _ = decode(fig).shape
    assert height > 80 and width > 300


def test_images_of_the_wrong_shape_are_refused_with_the_expected_shape(cnn):
    run, images, _, _, _ = cnn
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        errors.predict_proba(run, images[:, :, :4])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        errors.predict_proba(run.model, images[:, 0])
    model = gn.models.mlp((1, 8, 8), 10)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        errors.predict_proba(model, np.zeros(64, dtype=np.float32))


def test_labels_that_do_not_match_the_probabilities_are_refused():
    with pytest.raises(ValueError, match=r"3 class indices"):
        errors.confident_mistakes(np.eye(3, dtype=np.float32), np.array([0, 1]))
