"""One place for randomness, so that the same seed gives the same run.

Initialization, dropout and shuffling all draw from explicit NumPy Generators that
descend from the generator set by :func:`seed`. glassnet never touches NumPy's
global random state.
"""
import numpy as np

DEFAULT_SEED = 0
_generator = np.random.default_rng(DEFAULT_SEED)


def seed(n: int) -> None:
    """Reset glassnet's random state: the same ``n`` gives the same initial weights,
    dropout masks and shuffling order."""
    global _generator
    _generator = np.random.default_rng(n)


def generator() -> np.random.Generator:
    """The generator that layers draw their initial weights and dropout masks from."""
    return _generator


def spawn(seed_value=None) -> np.random.Generator:
    """A new independent generator: from ``seed_value`` if given, else drawn from
    glassnet's generator (so it too follows :func:`seed`)."""
    if seed_value is None:
        seed_value = int(_generator.integers(2**63))
    return np.random.default_rng(seed_value)
