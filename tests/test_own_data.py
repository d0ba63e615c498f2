"""``glassnet train --data`` and ``glassnet predict`` on the user's own data: tables, image
folders and texts, made small here, through the command a user types."""
import json

import numpy as np
import pytest

from glassnet import cli

pd = pytest.importorskip("pandas")
Image = pytest.importorskip("PIL.Image")

QUIET = ["--progress", "off", "--seed", "0"]


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``glassnet ARGV``."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# -- tables ----------------------------------------------------------------------------------------


def plants(rows=240, seed=0):
    """A table a network can learn: the kind follows from a size and a colour; a cell or two
    missing, as in real tables."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows)
    colour = rng.choice(["red", "green", "blue"], rows)
    kind = np.where(size + 4 * (colour == "red") > 12, "tall", "short")
    frame = pd.DataFrame({"size": size.round(2), "colour": colour, "kind": kind,
                          "height": (3 * size + 10 * (colour == "red") + rng.normal(0, 1, rows)).round(2)})
    frame.loc[[3, 17], "size"] = np.nan
    return frame


def test_a_table_trains_scores_beside_baselines_and_predicts(tmp_path, capsys):
    table = tmp_path / "plants.csv"
    plants().drop(columns="height").to_csv(table, index=False)
    save = tmp_path / "run" / "model.safetensors"
    status, out, _ = run(capsys, "train", "--data", table, "--target", "kind", "--epochs", 15, "--save", save, *QUIET)
    assert status == 0
    assert "classify 'kind'" in out and "logistic regression" in out and "confusion matrix" in out
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert scores["model"]["accuracy"] > 0.85
    assert set(scores["baselines"]) == {"logistic regression", "random forest"}

    new = tmp_path / "new.csv"
    pd.DataFrame({"size": [20.0, 2.0], "colour": ["green", "blue"]}).to_csv(new, index=False)
    status, out, _ = run(capsys, "predict", "--load", tmp_path / "run", new, "--json")
    rows = json.loads(out)
    assert status == 0 and [row["top"][0][0] for row in rows] == ["tall", "short"]
    assert rows[0]["top"][0][1] > 0.5 and abs(sum(p for _, p in rows[0]["top"]) - 1) < 1e-6


def test_a_regression_table_predicts_in_the_targets_units(tmp_path, capsys):
    table = tmp_path / "plants.tsv"
    plants().drop(columns="kind").to_csv(table, index=False, sep="\t")
    save = tmp_path / "run" / "model.safetensors"
    status, out, _ = run(capsys, "train", "--data", table, "--target", "height", "--epochs", 40, "--save", save,
                         "--lr", "3e-3", *QUIET)
    assert status == 0 and "regress 'height'" in out and "ridge" in out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"]["r2"] > 0.8
    new = tmp_path / "new.csv"
    pd.DataFrame({"size": [10.0], "colour": ["red"]}).to_csv(new, index=False)
    status, out, _ = run(capsys, "predict", "--load", save, new)
    assert status == 0
    assert 30 < float(out.splitlines()[1].split()[-1]) < 50  # 3 * 10 + 10, in the target's units


def test_table_mistakes_are_one_line_errors(tmp_path, capsys):
    table = tmp_path / "plants.csv"
    plants().to_csv(table, index=False)
    status, _, err = run(capsys, "train", "--data", table, "--target", "kinds", "--epochs", 1, *QUIET)
    assert status == 1 and err.startswith("glassnet: error:") and "'kind'" in err and "'colour'" in err
    status, _, err = run(capsys, "train", "--data", table, "--target", "height", "--task", "classify", *QUIET)
    assert status == 1 and "classify" in err and len(err.splitlines()) == 1
    status, _, err = run(capsys, "train", "--data", table, "--epochs", 1, *QUIET)
    assert status == 1 and "--target" in err

    save = tmp_path / "run" / "model.safetensors"
    assert run(capsys, "train", "--data", table, "--target", "kind", "--epochs", 1, "--save", save, *QUIET)[0] == 0
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"size": [1.0], "color": ["red"], "height": [3.0]}).to_csv(wrong, index=False)
    status, _, err = run(capsys, "predict", "--load", save, wrong)
    assert status == 1 and "'colour'" in err and "'color'" in err
    text = tmp_path / "text.csv"
    pd.DataFrame({"size": [1.0, "big"], "colour": ["red", "red"], "height": [3.0, 4.0]}).to_csv(text, index=False)
    status, _, err = run(capsys, "predict", "--load", save, text)
    assert status == 1 and "'size'" in err and "row 1" in err


# -- image folders ---------------------------------------------------------------------------------


def image_folder(root, per_class=24, size=(12, 12), seed=0):
    """Two classes of grey images: a bright square on the left or on the right."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(["left", "right"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size, dtype=np.uint8)
            half = size[1] // 2
            pixels[2:-2, half * label + 1: half * label + half - 1] = 220
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_an_image_folder_trains_with_augmentation_and_predicts(tmp_path, capsys):
    root = image_folder(tmp_path / "images")
    save = tmp_path / "run" / "model.safetensors"
    status, out, _ = run(capsys, "train", "--data", root, "--model", "cnn", "--epochs", 6, "--augment",
                         "--batch-size", 16, "--save", save, *QUIET)
    assert status == 0 and "2 classes" in out and "augmented (shift)" in out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"]["accuracy"] >= 0.9
    status, out, _ = run(capsys, "predict", "--load", tmp_path / "run", root / "left" / "0.png", root / "right" / "0.png")
    assert status == 0
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["left", "right"]


def test_image_folder_mistakes_are_one_line_errors(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--data", tmp_path / "nowhere", *QUIET)
    assert status == 1 and "no such file or folder" in err
    root = image_folder(tmp_path / "images", per_class=3)
    (root / "empty").mkdir()
    status, _, err = run(capsys, "train", "--data", root, "--epochs", 1, *QUIET)
    assert status == 1 and "empty" in err and len(err.splitlines()) == 1
    (root / "empty").rmdir()
    (root / "left" / "broken.png").write_bytes(b"not a png")
    status, _, err = run(capsys, "train", "--data", root, "--epochs", 1, *QUIET)
    assert status == 1 and "broken.png" in err
    status, out, err = run(capsys, "train", "--data", root, "--epochs", 1, "--bad-images", "skip", *QUIET)
    assert status == 0 and "broken.png" in err and "4 train / 2 val images" in out
    status, _, err = run(capsys, "train", "--data", root, "--target", "label", *QUIET)
    assert status == 1 and "--target" in err


def test_images_of_mixed_sizes_are_resized_and_said_so_once(tmp_path, capsys):
    root = image_folder(tmp_path / "images", per_class=4)
    Image.fromarray(np.zeros((20, 16), np.uint8)).save(root / "left" / "odd.png")
    status, out, err = run(capsys, "train", "--data", root, "--model", "mlp", "--epochs", 1, *QUIET)
    assert status == 0 and "(1, 12, 12)" in out
    notes = [line for line in err.splitlines() if line.startswith("glassnet: note:")]
    assert len(notes) == 1 and "1 of 9 are resized to 12x12" in notes[0] and "Warning" not in err


# -- texts -------------------------------------------------------------------------------------------


def text_folder(root, per_class=40, seed=0):
    """Two classes of short texts: about the weather or about food."""
    rng = np.random.default_rng(seed)
    words = {"weather": ["rain", "sun", "cloud", "wind", "storm"], "food": ["bread", "soup", "apple", "rice", "cake"]}
    filler = ["the", "a", "today", "was", "very", "and", "some"]
    for name, topic in words.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            text = " ".join(rng.choice(filler + topic, 8))
            text += " " + rng.choice(topic)
            (root / name / f"{i}.txt").write_text(text)
    return root


@pytest.mark.parametrize("model", ["gru", "transformer"])
def test_a_text_folder_trains_beside_the_bag_of_words_and_predicts(model, tmp_path, capsys):
    root = text_folder(tmp_path / "texts")
    save = tmp_path / "run" / "model.safetensors"
    status, out, _ = run(capsys, "train", "--data", root, "--model", model, "--epochs", 12, "--batch-size", 16,
                         "--lr", "3e-3", "--save", save, *QUIET)
    assert status == 0 and "tf-idf + logistic regression" in out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"]["accuracy"] >= 0.85
    assert (tmp_path / "run" / "vocabulary.json").exists()
    status, out, _ = run(capsys, "predict", "--load", save, "rain and storm today", "rice and soup", "--json")
    assert status == 0 and [row["top"][0][0] for row in json.loads(out)] == ["weather", "food"]


def test_a_table_of_texts_needs_its_target(tmp_path, capsys):
    table = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["rain today", "cake today"] * 10, "topic": ["weather", "food"] * 10}).to_csv(table, index=False)
    status, _, err = run(capsys, "train", "--data", table, "--text-column", "text", *QUIET)
    assert status == 1 and "--target" in err
    status, _, err = run(capsys, "train", "--data", table, "--text-column", "body", "--target", "topic", *QUIET)
    assert status == 1 and "'body'" in err and "text, topic" in err
    status, _, err = run(capsys, "train", "--data", table, "--text-column", "text", "--target", "topic",
                         "--model", "cnn", *QUIET)
    assert status == 1 and "text classifier" in err


def test_a_run_on_an_image_folder_is_evaluated_and_inspected_on_the_images_it_held_out(tmp_path, capsys):
    root = image_folder(tmp_path / "images", per_class=20)
    save = tmp_path / "run" / "model.safetensors"
    assert run(capsys, "train", "--data", root, "--model", "cnn", "--epochs", 3, "--save", save, *QUIET)[0] == 0
    held_out = json.loads((tmp_path / "run" / "metrics.json").read_text())["model"]
    status, out, _ = run(capsys, "evaluate", "--load", save)
    assert status == 0 and "(test, 8 images)" in out  # 20% of each class of 20, as training held out
    assert f"accuracy {held_out['accuracy']:.2%}" in out
    status, out, _ = run(capsys, "inspect", tmp_path / "run", "--what", "confusion")
    assert status == 0 and (tmp_path / "run" / "inspect").is_dir()


def test_a_table_run_says_where_its_scores_are_instead_of_drawing(tmp_path, capsys):
    table = tmp_path / "plants.csv"
    plants().to_csv(table, index=False)
    save = tmp_path / "run" / "model.safetensors"
    assert run(capsys, "train", "--data", table, "--target", "kind", "--epochs", 1, "--save", save, *QUIET)[0] == 0
    for argv in (["evaluate", "--load", save], ["inspect", tmp_path / "run", "--what", "confusion"]):
        status, _, err = run(capsys, *argv)
        assert status == 1 and "metrics.json" in err and "glassnet predict" in err
