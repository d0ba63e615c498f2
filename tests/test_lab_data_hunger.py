"""The lab's data-hunger claim: deep vs traditional learning by training-set size.

The quick run (the digits, 50, 200 and all 1438 training images, about 12 s) is shared with
the lab page's test through the ``lab_finding`` fixture. The verdict's logic is checked on
hand-made results, where the answer is known.
"""
import json

import pytest

from glassnet.lab import claims, compare, data_hunger


def row(method, size, accuracy):
    kind = "deep" if method in data_hunger.NETWORKS else "traditional"
    return compare.Result(method, kind, size, 1000, test_accuracy=accuracy, train_seconds=0.1)


def results(table):
    """{size: {method: accuracy}} -> compare's rows."""
    return [row(method, size, accuracy) for size, accuracies in table.items()
            for method, accuracy in accuracies.items()]


# -- the quick run -------------------------------------------------------------------------

def test_quick_run_trains_every_method_at_every_size(lab_finding):
    finding = lab_finding("data-hunger")
    data = finding.data
    assert data["dataset"] == "digits" and data["sizes"] == [50, 200, 1438]
    trained = {(r["method"], r["train_size"]) for r in data["results"] if not r["skipped"]}
    methods = data_hunger.NETWORKS + data_hunger.TRADITIONAL
    assert trained == {(method, size) for method in methods for size in (50, 200, 1438)}
    assert all(r["test_size"] == 359 for r in data["results"])  # the whole digits test set
    json.dumps(data)  # JSON-able as it stands


def test_quick_run_accuracies_are_real_and_grow_with_data(lab_finding):
    data = lab_finding("data-hunger").data
    accuracy = {(r["method"], r["train_size"]): r["test_accuracy"] for r in data["results"]}
    for method in data_hunger.NETWORKS + data_hunger.TRADITIONAL:
        # chance is 10%; 50 images already teach every method something, all of them much more
        assert accuracy[method, 50] > 0.6, method
        assert accuracy[method, 1438] > accuracy[method, 50] + 0.1, method
    assert accuracy["cnn", 1438] > 0.93 and accuracy["svm", 1438] > 0.95


def test_quick_verdict_is_computed_from_its_numbers(lab_finding):
    finding = lab_finding("data-hunger")
    data = finding.data
    judged = data_hunger.judge([compare.Result(**r) for r in data["results"]])
    assert all(data[key] == value for key, value in judged.items())
    lead = data["cnn_lead"]
    assert lead[0] == pytest.approx(100 * (data["cnn"][0] - data["best_traditional"][0][1]))
    assert data["lead_growth"] == pytest.approx(lead[-1] - lead[0])
    assert finding.held == (data["traditional_matches_at_smallest"] and data["lead_growth"] >= 1.0)
    # on the 8x8 digits the small CNN leads with 50 images and the SVM catches up: the lab says so
    assert finding.verdict.startswith("the opposite") != finding.held
    assert "cnn" in finding.number and "points" in finding.number


def test_quick_figure_has_accuracy_time_and_lead_panels(lab_finding):
    figure = lab_finding("data-hunger").figure
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[:2] == ["Test accuracy by training-set size", "Time to train"]
    assert "lead" in titles[2]
    lead_line = figure.axes[2].get_lines()[-1]
    assert list(lead_line.get_xdata()) == [50, 200, 1438]


# -- the verdict on known results ------------------------------------------------------------

def test_judge_holds_when_traditional_wins_small_and_the_cnn_pulls_ahead():
    judged = data_hunger.judge(results({
        100: {"mlp": 0.60, "cnn": 0.66, "logistic": 0.665, "forest": 0.64, "svm": 0.60},
        10000: {"mlp": 0.83, "cnn": 0.88, "logistic": 0.83, "forest": 0.85, "svm": 0.86},
    }))
    assert judged["best_traditional"] == [["logistic", 0.665], ["svm", 0.86]]
    assert judged["best_network"][0] == ["cnn", 0.66]
    assert judged["traditional_matches_at_smallest"]
    assert judged["cnn_lead"] == pytest.approx([-0.5, 2.0])
    assert judged["lead_growth"] == pytest.approx(2.5)
    assert judged["cnn_leads_at_largest"] and judged["held"]
    sentence = data_hunger.verdict(judged)
    assert sentence.startswith("with 100 images logistic matches") and "grew by 2.5 points" in sentence


def test_judge_fails_when_the_cnn_already_wins_with_little_data():
    judged = data_hunger.judge(results({
        100: {"mlp": 0.70, "cnn": 0.72, "logistic": 0.70, "svm": 0.57},
        300: {"mlp": 0.75, "cnn": 0.78, "logistic": 0.76, "svm": 0.73},
        10000: {"mlp": 0.83, "cnn": 0.876, "logistic": 0.83, "svm": 0.856},
    }))
    assert judged["cnn_lead"] == pytest.approx([2.0, 2.0, 2.0])
    assert not judged["traditional_matches_at_smallest"] and not judged["held"]
    sentence = data_hunger.verdict(judged)
    assert sentence.startswith("the opposite: with only 100 images the cnn already beats")
    assert "72.0% against logistic's 70.0%" in sentence


def test_judge_fails_when_the_lead_does_not_grow():
    judged = data_hunger.judge(results({
        50: {"cnn": 0.70, "svm": 0.72},
        1000: {"cnn": 0.90, "svm": 0.93},
    }))
    assert judged["traditional_matches_at_smallest"] and judged["lead_growth"] == pytest.approx(-1.0)
    assert not judged["held"] and not judged["cnn_leads_at_largest"]
    assert "did not grow" in data_hunger.verdict(judged) and "shrank by 1.0" in data_hunger.verdict(judged)


def test_judge_leaves_out_skipped_runs_and_rejects_too_little():
    rows = results({100: {"cnn": 0.7, "svm": 0.8}, 20000: {"cnn": 0.9, "forest": 0.85}})
    rows.append(compare.Result("svm", "traditional", 20000, 1000, skipped="too big"))
    assert data_hunger.judge(rows)["best_traditional"][-1] == ["forest", 0.85]
    with pytest.raises(ValueError, match="two training-set sizes"):
        data_hunger.judge(results({100: {"cnn": 0.7, "svm": 0.8}}))
    with pytest.raises(ValueError, match="logistic, forest, svm"):
        data_hunger.judge(results({100: {"cnn": 0.7}, 200: {"cnn": 0.8}}))


# -- which data -------------------------------------------------------------------------------

def test_quick_plan_is_the_digits_and_full_plans_fit_their_data(monkeypatch):
    assert data_hunger.plan_for(quick=True).dataset == "digits"
    monkeypatch.setattr(claims, "image_data", lambda prefer: ("digits", None, None))  # no Fashion-MNIST here
    plan = data_hunger.plan_for()
    assert plan.dataset == "digits" and max(plan.sizes) == 1438  # the whole digits training split
    assert list(plan.sizes) == sorted(plan.sizes) and len(plan.sizes) >= 4


@pytest.mark.data
def test_full_plan_uses_fashion_mnist_when_present():
    name, train, test = claims.image_data("fashion-mnist")
    if name != "fashion-mnist":
        pytest.skip("Fashion-MNIST is not on this machine")
    plan = data_hunger.plan_for()
    assert plan.dataset == "fashion-mnist" and plan.sizes == (100, 300, 1000, 3000, 10000)
    assert max(plan.sizes) <= len(train) and plan.test_size <= len(test)
