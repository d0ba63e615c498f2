"""Claim: deep learning needs more data than traditional methods.

The experiment is :func:`glassnet.lab.compare.compare` brought into the lab: an MLP and a
CNN (glassnet) against logistic regression, a random forest and an RBF support-vector
machine (scikit-learn), each trained on the same nested training sets of growing size and
scored on one test set. On a few hundred images a traditional method, which has little to
learn, holds its own; the CNN, which must learn its filters from the data, catches up and
pulls ahead as the data grows.

The verdict (:func:`judge`) is computed from the accuracies. The claim holds here when

- at the smallest size, the best traditional method matches (within
  ``MATCH_POINTS`` percentage points) or beats both networks, and
- the CNN's lead over the best traditional method (negative while it trails) grows by at
  least ``GROWTH_POINTS`` points from the smallest size to the largest.

Whether the CNN actually overtakes them at the largest size is said in the verdict.

The full run uses Fashion-MNIST when its files are on this machine (sizes 100 to 10,000,
scored on 2,000 test images), else the embedded 8x8 digits; ``quick`` uses the digits.
The networks get fewer optimizer steps than ``glassnet compare`` gives them (see
``PLANS``), to fit a few minutes on two cores.
"""
import dataclasses

from . import claims, compare

NETWORKS = ("mlp", "cnn")
TRADITIONAL = ("logistic", "forest", "svm")
MATCH_POINTS = 1.0  # "matches": within one percentage point
GROWTH_POINTS = 1.0  # "grows": by at least one percentage point


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one run trains: the data set, the training-set sizes, the test images scored
    (None: all) and the optimizer steps each network gets at least (more on big sets,
    which get ``min_epochs`` passes)."""

    dataset: str
    sizes: tuple
    test_size: int | None
    min_steps: int
    min_epochs: int = 3


PLANS = {
    "fashion-mnist": Plan("fashion-mnist", (100, 300, 1000, 3000, 10000), test_size=2000, min_steps=200),
    "digits": Plan("digits", (50, 100, 200, 500, 1438), test_size=None, min_steps=200),
    "quick": Plan("digits", (50, 200, 1438), test_size=None, min_steps=150, min_epochs=3),
}


def plan_for(quick=False, prefer="fashion-mnist"):
    """The :class:`Plan` of a run: the digits when ``quick``, else ``prefer``'s plan when its
    files are on this machine, else the digits'."""
    if quick:
        return PLANS["quick"]
    name, _, _ = claims.image_data(prefer)
    return PLANS[name]


def run(quick=False, seed=0, log=None):
    """Train every method at every size of :func:`plan_for`, judge the accuracies and return
    the :class:`~glassnet.lab.claims.Finding` (figure: compare's accuracy and training-time
    curves, and the CNN's lead over the best traditional method)."""
    log = claims.quiet(log)
    plan = plan_for(quick)
    log(f"data-hunger: {', '.join(NETWORKS + TRADITIONAL)} on {plan.dataset}, training sets of "
        f"{', '.join(f'{size:,}' for size in plan.sizes)} images")
    rows = []
    for size in plan.sizes:
        epochs = compare.epochs_for(size, min_steps=plan.min_steps, min_epochs=plan.min_epochs)
        log(f"{size:,} training images (networks: {epochs} epochs of batches of {compare.BATCH_SIZE})")
        rows += compare.compare(plan.dataset, sizes=(size,), models=NETWORKS, baselines=TRADITIONAL, epochs=epochs,
                                seed=seed, test_size=plan.test_size, progress=lambda line: log("  " + line))
    judged = judge(rows)
    return claims.Finding(
        name="data-hunger", held=judged["held"], number=headline(judged), verdict=verdict(judged),
        figure=plot(rows, judged, plan.dataset),
        data={"dataset": plan.dataset, "sizes": list(plan.sizes), "test_size": plan.test_size,
              "min_steps": plan.min_steps, "results": [dataclasses.asdict(row) for row in rows], **judged})


# -- the verdict ------------------------------------------------------------------------------

def _best(rows, methods):
    """(method, accuracy) of the most accurate of ``methods`` among ``rows`` (skipped runs left out)."""
    ran = [row for row in rows if row.method in methods and not row.skipped]
    if not ran:
        raise ValueError(f"judge: no results for any of {', '.join(methods)}")
    best = max(ran, key=lambda row: row.test_accuracy)
    return best.method, best.test_accuracy


def judge(rows):
    """The numbers behind the verdict, from compare's rows (each size needs a CNN row and
    at least one traditional row).

    Returns a dict: ``sizes``; per size (lists in the order of ``sizes``) the
    ``best_traditional`` and ``best_network`` as [method, accuracy], ``cnn`` (its
    accuracy) and ``cnn_lead`` (CNN minus the best traditional method, in percentage
    points); then ``traditional_matches_at_smallest``, ``lead_growth`` (points, largest
    size minus smallest), ``cnn_leads_at_largest`` and ``held``.
    """
    sizes = sorted({row.train_size for row in rows})
    if len(sizes) < 2:
        raise ValueError(f"judge: needs results at two training-set sizes at least, got {sizes}")
    best_traditional, best_network, cnn = [], [], []
    for size in sizes:
        at_size = [row for row in rows if row.train_size == size]
        best_traditional.append(list(_best(at_size, TRADITIONAL)))
        best_network.append(list(_best(at_size, NETWORKS)))
        cnn.append(_best(at_size, ("cnn",))[1])
    lead = [100 * (mine - theirs[1]) for mine, theirs in zip(cnn, best_traditional)]
    matches = 100 * (best_traditional[0][1] - best_network[0][1]) >= -MATCH_POINTS
    growth = lead[-1] - lead[0]
    return {"sizes": sizes, "best_traditional": best_traditional, "best_network": best_network, "cnn": cnn,
            "cnn_lead": lead, "traditional_matches_at_smallest": bool(matches), "lead_growth": growth,
            "cnn_leads_at_largest": bool(lead[-1] > 0), "held": bool(matches and growth >= GROWTH_POINTS)}


def headline(judged):
    """The finding's number: the two ends of the curve, and how the CNN's lead moved."""
    (small, large), lead = (judged["sizes"][0], judged["sizes"][-1]), judged["cnn_lead"]
    (t_small, t_large) = judged["best_traditional"][0], judged["best_traditional"][-1]
    return (f"n={small:,}: {t_small[0]} {t_small[1]:.1%} vs cnn {judged['cnn'][0]:.1%}; "
            f"n={large:,}: {t_large[0]} {t_large[1]:.1%} vs cnn {judged['cnn'][-1]:.1%} "
            f"(CNN lead {lead[0]:+.1f} -> {lead[-1]:+.1f} points)")


def verdict(judged):
    """One sentence: whether the claim held here, and if not, what happened instead."""
    small, large = f"{judged['sizes'][0]:,}", f"{judged['sizes'][-1]:,}"
    (t_method, t_accuracy), (n_method, n_accuracy) = judged["best_traditional"][0], judged["best_network"][0]
    growth, lead = judged["lead_growth"], judged["cnn_lead"][-1]
    if abs(growth) < GROWTH_POINTS:
        moved = f"stayed within {GROWTH_POINTS:g} point ({growth:+.1f}) from {small} to {large} images"
    else:
        moved = f"{'grew' if growth > 0 else 'shrank'} by {abs(growth):.1f} points from {small} to {large} images"
    standing = (f"it beats every traditional method by {lead:.1f} points at {large}" if lead > 0 else
                f"it trails {judged['best_traditional'][-1][0]} by {-lead:.1f} points at {large}")
    if judged["held"]:
        return f"with {small} images {t_method} matches or beats the networks, and the CNN's lead {moved}: {standing}"
    if not judged["traditional_matches_at_smallest"]:
        return (f"the opposite: with only {small} images the {n_method} already beats every traditional method "
                f"({n_accuracy:.1%} against {t_method}'s {t_accuracy:.1%}), and the CNN's lead {moved} ({standing})")
    return (f"with {small} images {t_method} matches or beats the networks, but the CNN's lead did not grow with "
            f"data: it {moved} ({standing})")


# -- the figure -------------------------------------------------------------------------------

def plot(rows, judged, dataset):
    """compare's two panels (accuracy and seconds to train against the training-set size),
    and a third: the CNN's lead over the best traditional method at each size."""
    fig = compare.plot_compare(rows, title=f"Deep vs traditional learning on {dataset}: who needs more data?")
    gridspec = fig.add_gridspec(1, 3, wspace=0.3)
    for column, axis in enumerate(fig.axes):
        axis.set_subplotspec(gridspec[0, column])
    fig.set_size_inches(17, 4.8)
    lead_axis = fig.add_subplot(gridspec[0, 2])
    sizes, lead = judged["sizes"], judged["cnn_lead"]
    lead_axis.axhline(0, color="grey", linewidth=1)
    lead_axis.plot(sizes, lead, "o-", color=compare.COLORS["cnn"], label="CNN minus best traditional")
    for size, points, (method, _) in zip(sizes, lead, judged["best_traditional"]):
        lead_axis.annotate(f"vs {method}", (size, points), textcoords="offset points", xytext=(0, 7), ha="center",
                           fontsize=8)
    lead_axis.set_xscale("log")
    lead_axis.margins(x=0.08, y=0.2)  # room for the labels above the points
    lead_axis.set_xticks(sizes, [f"{size:,}" for size in sizes], minor=False)
    lead_axis.minorticks_off()
    lead_axis.set(xlabel="training images", ylabel="percentage points",
                  title="The CNN's lead over the best traditional method")
    lead_axis.grid(True, alpha=0.3)
    lead_axis.legend(fontsize=8)
    return fig
