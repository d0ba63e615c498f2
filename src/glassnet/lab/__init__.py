"""The lab: experiments that train several models and compare them, and the seed's claims.

- **The seed's claims**, each one an experiment that says whether it held on this machine
  (:mod:`.claims`: ``claims.run("linear-depth")``, ``glassnet lab NAME``), and the page of
  them all (:func:`page.run_all`, ``glassnet lab --all``).
- **Deep vs traditional learning**: glassnet's networks and scikit-learn's classic methods
  at growing training-set sizes (:func:`compare.compare`, ``glassnet compare``), the table
  (:func:`format_table`) and the figure (:func:`plot_compare`).
- **Table baselines**: scikit-learn's logistic/ridge regression and random forests on a
  prepared table's split, scored like the network (:func:`baselines.table_baselines`,
  :func:`format_baselines`).
- **Text baseline**: TF-IDF + logistic regression on labelled texts, the bag-of-words
  figure a text classifier is judged against (:func:`text_baseline.text_baseline`).

The lab stands above :mod:`glassnet.inspect`, whose figures it draws with, and below the cli.
"""
# compare is the module, as its main function shares its name: lab.compare.compare(...)
from . import baselines, claims, compare, page
from .baselines import format_baselines, table_baselines
from .compare import Result, format_table, plot_compare
from .text_baseline import text_baseline

__all__ = ["claims", "page", "compare", "Result", "format_table", "plot_compare", "baselines", "table_baselines", "format_baselines",
           "text_baseline"]
