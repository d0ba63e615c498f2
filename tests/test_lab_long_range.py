"""Claim ``long-range`` (glassnet.lab.long_range): a plain RNN forgets the first token of a
long sequence, an LSTM and a transformer do not; the RNN's gradient vanishes with distance."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.lab import long_range


def test_the_task_puts_the_answer_first_and_noise_after():
    inputs, labels = long_range.first_token_task(200, 12, classes=3, noise_symbols=5, seed=1)
    assert inputs.shape == (200, 12, 8) and inputs.dtype == np.float32 and labels.dtype == np.int64
    tokens = inputs.argmax(axis=2)
    assert np.array_equal(inputs.sum(axis=2), np.ones((200, 12)))  # one-hot
    assert np.array_equal(tokens[:, 0], labels)
    assert tokens[:, 1:].min() >= 3 and tokens[:, 1:].max() <= 7  # only noise symbols after the first
    assert set(labels.tolist()) == {0, 1, 2}
    again, _ = long_range.first_token_task(200, 12, classes=3, noise_symbols=5, seed=1)
    other, _ = long_range.first_token_task(200, 12, classes=3, noise_symbols=5, seed=2)
    assert np.array_equal(inputs, again) and not np.array_equal(inputs, other)


def test_the_task_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="first_token_task.*length"):
        long_range.first_token_task(4, 0)
    with pytest.raises(ValueError, match="2 classes"):
        long_range.first_token_task(4, 5, classes=1)


def test_the_encoder_at_the_last_step_is_the_whole_layer_read_at_its_last_position():
    gn.random.seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=True)
    x = gn.tensor(np.random.default_rng(0).normal(size=(3, 7, 16)).astype(np.float32))
    np.testing.assert_allclose(long_range.encoder_at_last_step(layer, x).numpy(), layer(x)[:, -1].numpy(),
                               atol=1e-5)
    with pytest.raises(ValueError, match="norm_first=True"):
        long_range.encoder_at_last_step(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), x)


def test_the_remembering_start_opens_the_forget_gate_and_shuts_the_input_gate():
    lstm = long_range.remembering_start(nn.LSTM(3, 4), 5.0)
    both = lstm.bias_ih_l0.numpy() + lstm.bias_hh_l0.numpy()
    assert np.all(both[:4] == -5.0) and np.all(both[4:8] == 5.0)  # gates i, f, then g and o untouched
    assert np.any(both[8:] != 0)


def test_a_model_of_each_kind_classifies_from_the_last_step():
    x, _ = long_range.first_token_task(5, 9, seed=0)
    for kind in long_range.KINDS:
        assert long_range.SequenceClassifier(kind, x.shape[-1], 8, 4, max_length=9)(gn.tensor(x)).shape == (5, 4)
    with pytest.raises(ValueError, match="SequenceClassifier: kind"):
        long_range.SequenceClassifier("gru", 8, 8, 4)


def test_an_untrained_rnns_gradient_vanishes_with_distance_and_a_remembering_lstms_does_not():
    x, y = long_range.first_token_task(16, 30, seed=0)
    gn.random.seed(0)
    rnn = long_range.gradient_by_step(long_range.SequenceClassifier("rnn", 8, 16, 4), x, y)
    lstm = long_range.gradient_by_step(long_range.SequenceClassifier("lstm", 8, 16, 4), x, y)
    assert rnn.shape == lstm.shape == (30,)
    assert rnn[0] < 1e-4 * rnn[-1]  # 29 steps of W_hh and tanh' between them
    assert lstm[0] > 0.1 * lstm[-1]


def test_the_lstm_and_the_transformer_remember_where_the_rnn_forgets(lab_finding):
    finding = lab_finding("long-range")
    data = finding.data
    accuracy, chance = data["accuracy"], data["chance"]
    assert len(data["lengths"]) >= 2 and data["lengths"] == sorted(data["lengths"])
    # at the shortest length every network learns the task
    assert min(accuracy[kind][0] for kind in long_range.KINDS) > 0.9
    # at the longest the plain RNN is near chance, the LSTM (and the transformer) are not
    assert accuracy["rnn"][-1] < chance + 0.15
    assert accuracy["lstm"][-1] > accuracy["rnn"][-1] + 0.3
    assert accuracy["transformer"][-1] > accuracy["rnn"][-1] + 0.3
    assert finding.held
    # the gradient that reaches step 1: vanished in the RNN, alive in the LSTM
    ratio = data["gradient_first_over_last"]
    assert ratio["rnn"] < 1e-4 < ratio["lstm"]
    assert len(data["gradient_by_step"]["rnn"]) == data["lengths"][-1]
    assert str(data["lengths"][-1]) in finding.number and "LSTM" in finding.verdict


def test_the_figure_shows_accuracy_and_the_gradient(lab_finding):
    figure = lab_finding("long-range").figure
    left, right = figure.axes
    assert "accuracy" in left.get_ylabel() and right.get_yscale() == "log"
    assert len(left.get_lines()) == 4 and len(right.get_lines()) == 5
