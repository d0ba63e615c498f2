"""One place for randomness, so that the same seed gives the same run.

Initialization, dropout and shuffling all draw from explicit NumPy Generators that
descend from the generator set by :func:`seed`. glassnet never touches NumPy's
global random state.

A generator's state can be taken and put back (:func:`get_rng_state`,
:func:`set_rng_state`): a checkpoint holds it, so that a resumed run draws the same
dropout masks as one that never stopped. The state is plain data, its big integers cut
into arrays of 64-bit words, so that it is stored as tensors, never pickled.
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


def get_rng_state(generator=None) -> dict:
    """The state of ``generator`` (default: glassnet's) as plain data: the name of its bit
    generator, its arrays, and its integers as ``uint64`` word arrays (``integers`` lists
    which entries were integers).

    >>> g = np.random.default_rng(1)
    >>> state = get_rng_state(g)
    >>> first = g.random()
    >>> set_rng_state(state, g)
    >>> g.random() == first
    True
    """
    state = (generator if generator is not None else _generator).bit_generator.state
    inner, integers = {}, []
    for name, value in state["state"].items():
        if isinstance(value, (int, np.integer)):
            inner[name], integers = _words(int(value)), integers + [name]
        else:
            inner[name] = np.array(value)
    extra = {key: np.array(value) if isinstance(value, np.ndarray) else int(value)
             for key, value in state.items() if key not in ("bit_generator", "state")}
    return {"bit_generator": state["bit_generator"], "state": inner, "integers": integers, **extra}


def set_rng_state(state, generator=None) -> None:
    """Put back a state taken by :func:`get_rng_state` into ``generator`` (default:
    glassnet's), in place: whoever holds the generator draws from the restored state."""
    target = generator if generator is not None else _generator
    kind = type(target.bit_generator).__name__
    if state["bit_generator"] != kind:
        raise ValueError(f"cannot restore the state of a {state['bit_generator']} generator into a {kind} one")
    integers = set(state["integers"])
    inner = {name: _integer(value) if name in integers else np.asarray(value) for name, value in state["state"].items()}
    extra = {key: value for key, value in state.items() if key not in ("bit_generator", "state", "integers")}
    target.bit_generator.state = {"bit_generator": kind, "state": inner, **extra}


def _words(value):
    """A non-negative integer as little-endian 64-bit words (at least one)."""
    words = []
    while True:
        words.append(value & (2**64 - 1))
        value >>= 64
        if not value:
            return np.array(words, dtype=np.uint64)


def _integer(words):
    return sum(int(word) << (64 * i) for i, word in enumerate(np.asarray(words, dtype=np.uint64).ravel()))
