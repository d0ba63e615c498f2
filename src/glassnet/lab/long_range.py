"""Claim ``long-range``: recurrent networks forget long sequences; LSTMs and transformers do not.

The task is built so that only memory helps: a sequence whose first token is one of a few
class symbols and whose every other token is noise (symbols of their own, drawn at
random). The answer is the first token, asked for at the last step. At length 5 the first
token is 4 steps back; at length 100 it is 99 steps back.

Three networks, each trained with the same budget (steps, batch, optimizer), read the
sequence and answer from their output at the last step:

- a plain recurrent network (``nn.RNN``, tanh): its memory is one hidden vector,
  multiplied by the same matrix and squashed by tanh at every step;
- an LSTM (``nn.LSTM``): a cell state that gates can keep unchanged from step to step.
  It starts with its forget gate open and its input gate nearly shut
  (:func:`remembering_start`), the usual start for long sequences: with PyTorch's zero
  biases both gates start at 0.5, the cell halves at every step, and in this budget the
  LSTM did not learn even length 20 (the figure's dotted line shows that start's gradient);
- a transformer encoder (``nn.TransformerEncoderLayer`` with sinusoidal positions): the
  last position attends to every position directly, whatever the distance.

Why the plain RNN forgets shows in its gradient: the gradient of the loss with respect to
the input at step t passes back through every step after t, each multiplying it by
W_hh^T and tanh's derivative (at most 1); it shrinks geometrically with the distance (the
*vanishing gradient*), so the first token's influence is too faint to learn from. The
LSTM's cell state carries it back almost undamped while its forget gate stays near 1.
Training can push the RNN's W_hh to the other extreme, where the same product of matrices
grows with the distance (an *exploding* gradient) and the network is no better off: the
figure shows each gradient before and after training.

The claim holds here when the LSTM and the transformer both answer at least
:data:`MARGIN` more often than the plain RNN at the longest length.
"""
import io

import numpy as np

from .. import nn
from .. import random as gn_random
from ..data import DataLoader, TensorDataset
from ..nn import functional as F
from ..optim import Adam
from ..tensor import Tensor, no_grad
from ..train import evaluate, fit
from . import claims

CLASSES = 4  # class symbols the first token is drawn from: chance is 1 / CLASSES
NOISE_SYMBOLS = 4  # the symbols every other token is drawn from
KINDS = ("rnn", "lstm", "transformer")
LABELS = {"rnn": "plain RNN (tanh)", "lstm": "LSTM", "transformer": "transformer"}
COLORS = {"rnn": "C3", "lstm": "C0", "transformer": "C2"}
MARGIN = 0.1  # how much better the LSTM and the transformer must answer at the longest length

# The settings of the two runs: the same experiment, smaller in quick mode.
FULL = {"lengths": (5, 20, 50, 100), "hidden": 32, "steps": 150, "batch": 32, "test": 500}
QUICK = {"lengths": (5, 50), "hidden": 32, "steps": 100, "batch": 32, "test": 300}
LEARNING_RATE = 1e-2
GATE_BIAS = 5.0  # the LSTM starts with its forget gate at sigmoid(5) = 0.993, its input gate at 0.007


def first_token_task(count, length, classes=CLASSES, noise_symbols=NOISE_SYMBOLS, seed=0):
    """``count`` sequences of ``length`` one-hot tokens whose label is their first token.

    Tokens 0 .. classes-1 are the class symbols; tokens classes .. classes+noise_symbols-1
    are noise. Step 0 holds the class symbol, every later step a random noise symbol.

    Returns ``(inputs, labels)``: float32 (count, length, classes + noise_symbols) and
    int64 (count,).

    >>> x, y = first_token_task(3, 5, seed=0)
    >>> x.shape, bool((x[:, 0].argmax(axis=1) == y).all()), bool((x[:, 1:].argmax(axis=2) >= CLASSES).all())
    ((3, 5, 8), True, True)
    """
    if length < 1 or count < 1:
        raise ValueError(f"first_token_task: count and length must be at least 1, got {count} and {length}")
    if classes < 2 or noise_symbols < 1:
        raise ValueError(f"first_token_task: needs at least 2 classes and 1 noise symbol, got {classes} "
                         f"and {noise_symbols}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=count)
    tokens = rng.integers(classes, classes + noise_symbols, size=(count, length))
    tokens[:, 0] = labels
    inputs = np.eye(classes + noise_symbols, dtype=np.float32)[tokens]
    return inputs, labels.astype(np.int64)


def remembering_start(lstm, bias=GATE_BIAS):
    """Set the biases of an ``nn.LSTM``'s first layer so that it starts out remembering:
    forget gate at sigmoid(bias) (the cell is kept from step to step), input gate at
    sigmoid(-bias) (little is written over it). Training opens the input gate where it
    pays, e.g. for the class symbol.

    With PyTorch's initialization (every bias near 0) both gates start at 0.5: the cell
    keeps half of itself per step, 0.5^20 of the first token after 20 steps, and its
    gradient shrinks as fast as a plain RNN's. Starting the forget gate open is the common
    practice for long sequences (Gers et al. 2000; Jozefowicz et al. 2015; Tallec and
    Ollivier's "chrono" initialization, whose input gate is the forget gate's opposite).
    Returns the layer.

    >>> lstm = remembering_start(nn.LSTM(3, 2), 5.0)
    >>> lstm.bias_ih_l0.numpy()[:4].round(1).tolist()  # rows i, i, f, f
    [-5.0, -5.0, 5.0, 5.0]
    """
    hidden = lstm.hidden_size
    with no_grad():  # PyTorch's gate order in the rows: input, forget, cell, output
        lstm.bias_ih_l0[:hidden] = -bias
        lstm.bias_ih_l0[hidden:2 * hidden] = bias
        lstm.bias_hh_l0[:2 * hidden] = 0.0
    return lstm


def encoder_at_last_step(layer, x):
    """The output of a pre-norm ``nn.TransformerEncoderLayer`` (``norm_first=True``,
    ``batch_first=True``) at the last position only: ``layer(x)[:, -1]``, computed without
    the other positions' outputs.

    Attention lets the last position look at every position at once (its query against
    all keys); the residuals and the feed-forward network work position by position. So
    the last position's output needs the keys and values of all positions but the
    feed-forward network of one: the classifier reads nothing else, and this costs a
    fraction of the whole layer on long sequences.

    Shape: (N, L, d_model) -> (N, d_model).
    """
    if not (layer.norm_first and layer.self_attn.batch_first):
        raise ValueError("encoder_at_last_step: expects a TransformerEncoderLayer with norm_first=True and "
                         "batch_first=True")
    normed = layer.norm1(x)
    last = x[:, -1:]
    last = last + layer.dropout1(layer.self_attn(normed[:, -1:], normed, normed, need_weights=False)[0])
    last = last + layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(layer.norm2(last))))))
    return last[:, 0]


class SequenceClassifier(nn.Module):
    """Reads a sequence of token vectors and classifies it from its output at the last step.

    ``kind`` is ``'rnn'`` (nn.RNN, tanh), ``'lstm'`` (nn.LSTM) or ``'transformer'`` (a
    linear embedding, sinusoidal positions, one pre-norm encoder block with 2 heads, a
    LayerNorm). All three then apply one Linear layer to the last step's vector.

    Shape: (N, L, features) -> (N, classes).
    """

    def __init__(self, kind, features, hidden, classes, max_length=512):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"SequenceClassifier: kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        if kind == "rnn":
            self.body = nn.RNN(features, hidden, nonlinearity="tanh", batch_first=True)
        elif kind == "lstm":
            self.body = nn.LSTM(features, hidden, batch_first=True)
            remembering_start(self.body, GATE_BIAS)
        else:
            self.embed = nn.Linear(features, hidden)
            self.positions = nn.SinusoidalPositionalEncoding(hidden, max_len=max_length)
            self.body = nn.TransformerEncoderLayer(hidden, 2, 2 * hidden, dropout=0.0, batch_first=True,
                                                   norm_first=True)
            self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        if self.kind == "transformer":
            return self.head(self.norm(encoder_at_last_step(self.body, self.positions(self.embed(x)))))
        outputs, _ = self.body(x)
        return self.head(outputs[:, -1])

    def extra_repr(self):
        return f"kind={self.kind!r}"


def train_on_length(kind, length, hidden, steps, batch, test_count, seed=0):
    """Train a :class:`SequenceClassifier` of ``kind`` on sequences of ``length`` for
    ``steps`` steps of ``batch`` fresh sequences (Adam, gradients clipped to norm 1), and
    score it on ``test_count`` new ones. Returns ``(model, test accuracy)``."""
    gn_random.seed(seed)  # the same initial weights for every length
    x, y = first_token_task(steps * batch, length, seed=seed)
    test_x, test_y = first_token_task(test_count, length, seed=seed + 10_000)
    model = SequenceClassifier(kind, x.shape[-1], hidden, CLASSES, max_length=max(length, 1))
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=False)
    fit(model, loader, Adam(model.parameters(), lr=LEARNING_RATE), epochs=1, clip_grad_norm=1.0, progress=False,
        out=io.StringIO())
    return model, evaluate(model, TensorDataset(test_x, test_y))["acc"]


def gradient_by_step(model, inputs, labels):
    """The size of the gradient of the loss with respect to the input at each step: the
    norm of d loss / d x_t for every t, averaged over the sequences. Returns an array of
    shape (length,); entry 0 is how much the first token can still move the loss."""
    x = Tensor(np.asarray(inputs, dtype=np.float32), requires_grad=True)
    was_training = model.training
    model.eval()
    loss = F.cross_entropy(model(x), Tensor(np.asarray(labels)), reduction="sum")
    loss.backward()
    model.train(was_training)
    grad = np.asarray(x.grad)
    return np.sqrt((grad ** 2).sum(axis=2)).mean(axis=0)


def run(quick=False, seed=0, log=None):
    """Train the three networks at every length, measure their gradients, and return the
    :class:`~glassnet.lab.claims.Finding`."""
    log = claims.quiet(log)
    settings = QUICK if quick else FULL
    lengths = settings["lengths"]
    accuracy = {kind: [] for kind in KINDS}
    models = {}
    for length in lengths:
        for kind in KINDS:
            log(f"long-range: training the {LABELS[kind]} on sequences of {length} "
                f"({settings['steps']} steps of {settings['batch']})")
            model, score = train_on_length(kind, length, settings["hidden"], settings["steps"], settings["batch"],
                                           settings["test"], seed)
            accuracy[kind].append(score)
            models[kind] = model
            log(f"long-range:   test accuracy {score:.1%}")
    longest = lengths[-1]
    probe_x, probe_y = first_token_task(128, longest, seed=seed + 20_000)
    gradients = {}
    for kind in ("rnn", "lstm"):
        gradients[kind] = gradient_by_step(models[kind], probe_x, probe_y)
        gn_random.seed(seed)
        untrained = SequenceClassifier(kind, probe_x.shape[-1], settings["hidden"], CLASSES, longest)
        gradients[f"{kind}_untrained"] = gradient_by_step(untrained, probe_x, probe_y)
    # the same LSTM with PyTorch's biases (gates at 0.5): what the open forget gate changes
    untrained.body.reset_parameters()
    gradients["lstm_default_start"] = gradient_by_step(untrained, probe_x, probe_y)
    return _finding(lengths, accuracy, gradients, settings)


def _finding(lengths, accuracy, gradients, settings):
    last = {kind: accuracy[kind][-1] for kind in KINDS}
    lstm_ahead = last["lstm"] - last["rnn"] >= MARGIN
    transformer_ahead = last["transformer"] - last["rnn"] >= MARGIN
    held = lstm_ahead and transformer_ahead
    longest = lengths[-1]
    number = (f"at length {longest}: RNN {last['rnn']:.0%}, LSTM {last['lstm']:.0%}, transformer "
              f"{last['transformer']:.0%} (chance {1 / CLASSES:.0%})")
    # first step's gradient over the last step's: before training (what decides whether the
    # first token can be learned at all) and after it
    ratio = {kind: float(gradients[f"{kind}_untrained"][0] / gradients[f"{kind}_untrained"][-1])
             for kind in ("rnn", "lstm")}
    trained_ratio = {kind: float(gradients[kind][0] / gradients[kind][-1]) for kind in ("rnn", "lstm")}
    if held:
        verdict = (f"at length {longest} the plain RNN answers {last['rnn']:.0%} (from {accuracy['rnn'][0]:.0%} at "
                   f"length {lengths[0]}) while the LSTM and the transformer keep {last['lstm']:.0%} and "
                   f"{last['transformer']:.0%}; before training, the gradient reaching step 1 is "
                   f"{_fraction(ratio['rnn'])} of the last step's in the RNN, {_fraction(ratio['lstm'])} in the LSTM")
    else:
        behind = [LABELS[kind] for kind, ahead in (("lstm", lstm_ahead), ("transformer", transformer_ahead))
                  if not ahead]
        verdict = (f"at length {longest} the {' and the '.join(behind)} did not beat the plain RNN by "
                   f"{MARGIN:.0%} (RNN {last['rnn']:.0%}, LSTM {last['lstm']:.0%}, transformer "
                   f"{last['transformer']:.0%}) with this training budget")
    data = {"lengths": list(lengths), "accuracy": accuracy, "chance": 1 / CLASSES, "margin": MARGIN,
            "gradient_by_step": {kind: values.tolist() for kind, values in gradients.items()},
            "gradient_first_over_last": ratio, "trained_gradient_first_over_last": trained_ratio, "settings": dict(settings, lengths=list(lengths),
                                                                 learning_rate=LEARNING_RATE, classes=CLASSES,
                                                                 noise_symbols=NOISE_SYMBOLS)}
    return claims.Finding("long-range", held, number, verdict, _figure(lengths, accuracy, gradients), data)


def _fraction(ratio):
    """A ratio of gradients in words: 0.3, 2e-12, or 0 when it underflowed float32."""
    if ratio == 0:
        return "0 (too small for float32)"
    return f"{ratio:.1f}" if ratio >= 0.1 else f"{ratio:.0e}"


def _figure(lengths, accuracy, gradients):
    from ..inspect import plots

    fig, (left, right) = plots.figure(12, 4.5, ncols=2)
    styles = {"rnn": "o-", "lstm": "s-", "transformer": "^--"}  # distinct, as lines at 100% lie on each other
    for kind in KINDS:
        left.plot(lengths, [100 * value for value in accuracy[kind]], styles[kind], color=COLORS[kind],
                  label=LABELS[kind], markersize=8 if kind == "lstm" else 6)
    left.axhline(100 / CLASSES, color="grey", linestyle=":", label="chance")
    left.set(xlabel="sequence length (the answer is the first token)", ylabel="test accuracy (%)",
             title="Remembering the first token", ylim=(0, 105))
    left.set_xticks(lengths)
    left.legend(fontsize=8)
    left.grid(True, alpha=0.3)
    longest = len(gradients["rnn"])
    steps = np.arange(1, longest + 1)
    for kind in ("rnn", "lstm"):
        right.plot(steps, gradients[kind], "-", color=COLORS[kind], label=f"{LABELS[kind]}, trained")
        right.plot(steps, gradients[f"{kind}_untrained"], "--", color=COLORS[kind], alpha=0.6,
                   label=f"{LABELS[kind]}, untrained")
    right.plot(steps, gradients["lstm_default_start"], ":", color="C1",
               label="LSTM, untrained, gates at 0.5 (PyTorch's default biases)")
    right.set(yscale="log", xlabel=f"input step t (the answer is read at step {longest})",
              ylabel="|d loss / d input at step t|", title=f"The gradient that reaches each step (length {longest})")
    right.legend(fontsize=8)
    right.grid(True, which="major", alpha=0.3)
    fig.suptitle("Recurrent networks forget long sequences; LSTMs and transformers do not")
    return fig
