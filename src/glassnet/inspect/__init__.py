"""Look inside a network: what it learned, why it predicts, where it fails.

Every tool takes a model (or a saved run, :func:`load_run`) and returns numbers as NumPy
arrays plus, where a picture says more, a matplotlib figure (see :mod:`.plots`).
"""
from .layers import capture, get_layer, layer_names
from .run import Run, load_run, read_history

__all__ = ["Run", "load_run", "read_history", "capture", "get_layer", "layer_names"]
