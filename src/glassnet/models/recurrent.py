"""Recurrent networks on images: read a picture one row at a time, remembering the rows
seen so far in the hidden state — the standard sequential-image task."""
from .. import nn


class RowClassifier(nn.Module):
    """An LSTM or GRU that reads an image as a sequence of rows (28 steps of 28 pixels
    for MNIST) and classifies it from the hidden state after the last row.

    Shape: (N, C, H, W) -> (N, num_classes).
    """

    def __init__(self, input_shape=(1, 28, 28), num_classes=10, cell="lstm", hidden_size=128, num_layers=1):
        super().__init__()
        channels, _, width = input_shape
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
        if cell not in recurrent:
            raise ValueError(f"RowClassifier: cell must be one of {sorted(recurrent)}, got {cell!r}")
        self.rnn = recurrent[cell](channels * width, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, images):
        n, channels, height, width = images.shape
        rows = images.permute(0, 2, 1, 3).reshape(n, height, channels * width)  # (N, steps, features)
        output, _ = self.rnn(rows)
        return self.head(output[:, -1])


def lstm(input_shape=(1, 28, 28), num_classes=10, hidden_size=128):
    return RowClassifier(input_shape, num_classes, "lstm", hidden_size)


def gru(input_shape=(1, 28, 28), num_classes=10, hidden_size=128):
    return RowClassifier(input_shape, num_classes, "gru", hidden_size)
