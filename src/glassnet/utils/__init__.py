"""PyTorch's ``torch.utils`` namespace, for the parts glassnet has: ``glassnet.utils.data``.

(Not to be confused with ``glassnet.nn.utils``, gradient clipping, as ``torch.nn.utils``.)
"""
from . import data

__all__ = ["data"]
