"""The lab: experiments that train several models and compare them.

- **Deep vs traditional learning**: glassnet's networks and scikit-learn's classic methods
  at growing training-set sizes (:func:`compare.compare`, ``glassnet compare``), the table
  (:func:`format_table`) and the figure (:func:`plot_compare`).

The lab stands above :mod:`glassnet.inspect`, whose figures it draws with, and below the cli.
"""
# compare is the module, as its main function shares its name: lab.compare.compare(...)
from . import compare
from .compare import Result, format_table, plot_compare

__all__ = ["compare", "Result", "format_table", "plot_compare"]
