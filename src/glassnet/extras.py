"""Optional extras: modules that only some parts of glassnet need, imported when they are used.

Training needs NumPy alone. Looking inside a network (:mod:`glassnet.inspect`) draws with
matplotlib and measures with scikit-learn and SciPy; they come with
``pip install 'glassnet[inspect]'``. When one is missing, :func:`require` says what needed
it and how to install it, in one line, instead of a bare ``No module named ...``.

>>> require("math", "counting").sqrt(16.0)
4.0
"""
import importlib

INSTALL = "pip install 'glassnet[{extra}]'"


class MissingExtra(ModuleNotFoundError):
    """An optional module is not installed; the message names what needs it and how to install it.

    A ``ModuleNotFoundError`` (so an ``ImportError``), so ``except ImportError`` still catches it.
    """


def require(module, purpose, extra="inspect"):
    """The module called ``module`` ('matplotlib.figure', 'sklearn.metrics'), imported; if it is
    not installed, a :class:`MissingExtra` that reads
    "<purpose> needs <module>, which is not installed: pip install 'glassnet[<extra>]'".

    >>> require("a_module_nobody_wrote", "this example")
    Traceback (most recent call last):
    ...
    glassnet.extras.MissingExtra: this example needs a_module_nobody_wrote, which is not installed: pip install 'glassnet[inspect]'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        # name the package that is actually absent: 'scipy' when sklearn is there but its SciPy
        # is not, and 'sklearn' rather than 'sklearn.metrics'
        missing = (error.name or module).partition(".")[0]
        message = f"{purpose} needs {missing}, which is not installed: {INSTALL.format(extra=extra)}"
        raise MissingExtra(message, name=missing) from error
