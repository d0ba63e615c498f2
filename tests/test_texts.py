"""Specification of text classification: tokenizers, reading labelled texts, preparing
splits, the text classifiers (and that they ignore padding), and the baseline."""
import bz2
import csv
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, nn
from glassnet.data import DataLoader
from glassnet.data.texts import (
    PAD_ID,
    UNK_ID,
    CharacterTokenizer,
    LabelledTexts,
    TextDataset,
    Tokenizer,
    WordTokenizer,
    make_tokenizer,
    prepare_texts,
    read_text_folder,
    read_text_table,
    read_texts,
    rotten_tomatoes,
    stdlib_functions,
)
from glassnet.models import TEXT_CLASSIFIERS, RecurrentTextClassifier, TransformerTextClassifier, text_classifier

# -- tokenizers -------------------------------------------------------------------------------


def test_word_tokenizer_lowercases_splits_words_and_punctuation_and_reserves_pad_and_unk():
    tok = WordTokenizer().fit(["The cat sat.", "the dog sat!", "THE END"])
    assert tok.tokens("Hello, World!") == ["hello", ",", "world", "!"]
    assert tok.vocabulary[:2] == ["<pad>", "<unk>"]
    # the most frequent first, ties in alphabetical order
    assert tok.vocabulary[2:5] == ["the", "sat", "!"]
    assert tok.vocab_size == len(tok.vocabulary) == 2 + len({"the", "cat", "sat", ".", "dog", "!", "end"})


def test_encode_pads_with_zero_at_the_end_and_marks_unknown_words_with_one():
    tok = WordTokenizer().fit(["a b c"])
    ids = tok.encode("c zebra a", max_length=6)
    assert ids.dtype == np.int64 and ids.shape == (6,)
    assert ids.tolist() == [tok.index["c"], UNK_ID, tok.index["a"], PAD_ID, PAD_ID, PAD_ID]
    assert tok.decode(ids) == "c <unk> a"


def test_encode_truncates_long_texts_and_without_max_length_keeps_every_token():
    tok = WordTokenizer().fit(["one two three four five"])
    assert tok.decode(tok.encode("one two three four five", max_length=3)) == "one two three"
    assert len(tok.encode("one two three four five")) == 5
    batch = tok.encode_batch(["one", "two three four five six"], max_length=4)
    assert batch.shape == (2, 4) and batch.dtype == np.int64
    assert batch[0].tolist()[1:] == [0, 0, 0] and PAD_ID not in batch[1]


def test_max_vocab_and_min_freq_limit_the_vocabulary():
    texts = ["a a a b b c", "a b d"]
    assert WordTokenizer(max_vocab=4).fit(texts).vocabulary == ["<pad>", "<unk>", "a", "b"]
    assert WordTokenizer(min_freq=2).fit(texts).vocabulary == ["<pad>", "<unk>", "a", "b"]
    assert WordTokenizer(min_freq=1).fit(texts).vocab_size == 6
    with pytest.raises(ValueError, match="min_freq"):
        WordTokenizer(min_freq=10).fit(texts)
    with pytest.raises(ValueError, match="max_vocab"):
        WordTokenizer(max_vocab=2)


def test_character_tokenizer_keeps_case_and_marks_unknown_characters():
    tok = CharacterTokenizer().fit(["Abc", "cab"])
    assert tok.vocabulary == ["<pad>", "<unk>", "b", "c", "A", "a"]  # by count, then code point
    ids = tok.encode("cAz", max_length=5)
    assert ids.tolist()[2:] == [UNK_ID, PAD_ID, PAD_ID]
    assert tok.decode(ids) == "cA<unk>"
    assert CharacterTokenizer(lowercase=True).fit(["Abc"]).encode("ABC").tolist() == [2, 3, 4]


@pytest.mark.parametrize("kind", ["word", "char"])
def test_json_round_trip_gives_the_same_tokenizer(kind, tmp_path):
    tok = make_tokenizer(kind, min_freq=1).fit(["The quick brown fox.", "jumps over the lazy dog!"])
    again = Tokenizer.from_json(tok.to_json())
    assert type(again) is type(tok) and again.vocabulary == tok.vocabulary
    text = "The lazy cat jumps?"
    assert again.encode(text, max_length=12).tolist() == tok.encode(text, max_length=12).tolist()
    path = tmp_path / "vocabulary.json"
    tok.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["vocabulary"] == tok.vocabulary  # plain JSON, no pickle
    assert Tokenizer.load(path).vocabulary == tok.vocabulary


def test_tokenizer_errors_say_what_to_do():
    with pytest.raises(ValueError, match="fit"):
        WordTokenizer().encode("hello")
    with pytest.raises(ValueError, match="kind"):
        Tokenizer.from_json(json.dumps({"kind": "bpe", "vocabulary": []}))
    with pytest.raises(ValueError, match="unknown tokenizer"):
        make_tokenizer("sentencepiece")


# -- reading labelled texts -------------------------------------------------------------------


def write_csv(path, rows, sep=","):
    with open(path, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream, delimiter=sep).writerows(rows)
    return path


def test_read_text_table_reads_the_two_columns_as_strings(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["id", "review", "stars"], [1, "great, really", 5], [2, "awful", 1],
                                          [3, "fine", 3], [4, "", 2], [5, "awful", 1]])
    data = read_text_table(path, text_column="review", target="stars")
    assert data.texts == ["great, really", "awful", "fine"]
    assert data.labels == ["5", "1", "3"] and data.classes == ["1", "3", "5"]
    assert any("empty" in note for note in data.notes) and any("repeated" in note for note in data.notes)


def test_read_text_table_reads_tsv_and_a_split_column(tmp_path):
    rows = [["text", "label", "split"], ["a b", "x", "train"], ["c d", "y", "train"], ["a c", "x", "test"]]
    data = read_text_table(write_csv(tmp_path / "t.tsv", rows, sep="\t"), "text", "label")
    assert data.split == ["train", "train", "test"]
    splits = prepare_texts(data)
    assert len(splits.train) == 2 and len(splits.val) == 1


def test_read_text_table_errors_name_the_columns(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["message", "category"], ["hi", "a"], ["yo", "b"]])
    with pytest.raises(ValueError, match="no text column 'text'.*message, category"):
        read_text_table(path, "text", "category")
    with pytest.raises(ValueError, match="no target 'label'.*message, category"):
        read_text_table(path, "message", "label")
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_text_table(tmp_path / "nowhere.csv", "message", "category")
    one_class = write_csv(tmp_path / "one.csv", [["text", "label"], ["hi", "a"], ["yo", "a"]])
    with pytest.raises(ValueError, match="single class"):
        read_text_table(one_class, "text", "label")


def make_folder(root, layout):
    """layout: {relative folder: [texts]}."""
    for folder, texts in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(texts):
            (root / folder / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


def test_read_text_folder_gives_one_class_per_subfolder(tmp_path):
    root = make_folder(tmp_path / "reviews", {"pos": ["good", "great"], "neg": ["bad", "awful", "poor"]})
    (root / "pos" / "notes.md").write_text("not a text", encoding="utf-8")
    data = read_text_folder(root)
    assert data.classes == ["neg", "pos"] and data.split is None
    assert sorted(zip(data.labels, data.texts)) == [("neg", "awful"), ("neg", "bad"), ("neg", "poor"),
                                                    ("pos", "good"), ("pos", "great")]


def test_read_text_folder_uses_train_and_test_subfolders(tmp_path):
    root = make_folder(tmp_path, {"train/pos": ["good", "great"], "train/neg": ["bad", "awful"],
                                  "test/pos": ["fine"], "test/neg": ["poor"]})
    data = read_text_folder(root)
    assert data.split.count("test") == 2
    splits = prepare_texts(data)
    assert sorted(splits.val.texts) == ["fine", "poor"]
    make_folder(tmp_path, {"test/meh": ["so so"]})
    with pytest.raises(ValueError, match="meh"):
        read_text_folder(root)


def test_read_text_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_text_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        read_text_folder(tmp_path / "empty")
    loose = make_folder(tmp_path / "loose", {".": ["a text"]})
    with pytest.raises(ValueError, match="directly"):
        read_text_folder(loose)
    root = make_folder(tmp_path / "partial", {"pos": ["good"], "neg": []})
    with pytest.raises(ValueError, match="neg holds no .txt files"):
        read_text_folder(root)


def test_read_texts_reads_a_folder_or_a_table(tmp_path):
    data = LabelledTexts(["good", "bad", "fine"], ["pos", "neg", "pos"])
    assert read_texts(data.to_folder(tmp_path / "d")).classes == ["neg", "pos"]
    table = data.to_csv(tmp_path / "d.csv")
    assert read_texts(table, "text", "label").texts == data.texts
    with pytest.raises(ValueError, match="--text-column and --target"):
        read_texts(table)
    with pytest.raises(FileNotFoundError, match="one subfolder of .txt files per class"):
        read_texts(tmp_path / "nothing")


def test_labelled_texts_write_back_as_csv_and_as_a_folder(tmp_path):
    data = LabelledTexts(["good, \"quoted\"\nfilm", "bad", "ok"], ["pos", "neg", "pos"])
    again = read_text_table(data.to_csv(tmp_path / "d.csv", text_column="review", target="y"), "review", "y")
    assert again.texts == data.texts and again.labels == data.labels
    folder = read_text_folder(data.to_folder(tmp_path / "d"))
    assert sorted(zip(folder.texts, folder.labels)) == sorted(zip(data.texts, data.labels))


# -- preparing splits ---------------------------------------------------------------------------


def corpus(n=200, seed=0):
    generator = np.random.default_rng(seed)
    labels = generator.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    texts = [f"{label} text number {i} " + " ".join(generator.choice(list("xyz"), 5)) for i, label in enumerate(labels)]
    return LabelledTexts(texts, labels)


def test_prepare_texts_makes_int64_datasets_of_the_chosen_length():
    splits = prepare_texts(corpus(), tokenizer="word", max_length=12)
    assert isinstance(splits.train, TextDataset) and splits.classes == ["a", "b", "c"]
    ids, label = splits.train[0]
    assert ids.shape == (12,) and ids.dtype == np.int64 and label.dtype == np.int64
    x, y = next(iter(DataLoader(splits.train, batch_size=16)))
    assert x.shape == (16, 12) and y.shape == (16,)
    assert splits.metadata()["vocab_size"] == splits.tokenizer.vocab_size


def test_the_split_is_stratified_and_seeded():
    data = corpus(400)
    splits = prepare_texts(data, val_fraction=0.25, seed=3)
    counts = np.bincount(splits.val.labels, minlength=3) / np.bincount(
        [splits.classes.index(label) for label in data.labels], minlength=3)
    np.testing.assert_allclose(counts, 0.25, atol=0.01)
    assert len(splits.train) + len(splits.val) == 400
    assert prepare_texts(data, val_fraction=0.25, seed=3).val.texts == splits.val.texts
    assert prepare_texts(data, val_fraction=0.25, seed=4).val.texts != splits.val.texts


def test_the_vocabulary_comes_from_the_training_texts_only():
    data = LabelledTexts(["alpha beta", "gamma delta", "alpha alpha", "gamma gamma", "omega", "sigma"],
                         ["x", "y", "x", "y", "x", "y"])
    splits = prepare_texts(data, val_fraction=0.34, seed=0)
    val_words = {w for t in splits.val.texts for w in t.split()} - {w for t in splits.train.texts for w in t.split()}
    assert val_words and not val_words & set(splits.tokenizer.vocabulary)
    assert UNK_ID in splits.val.ids


def test_prepare_texts_chooses_a_length_and_reports_what_it_made():
    splits = prepare_texts(corpus(), tokenizer="char")
    assert splits.max_length % 8 == 0 and splits.max_length >= max(len(t) for t in splits.train.texts) * 0.9
    for word in ("texts: 200", "classes: 3", "vocabulary:", "characters", "lengths: median"):
        assert word in splits.report


def test_prepare_texts_keeps_a_fitted_tokenizer_and_rejects_bad_input():
    tok = WordTokenizer().fit(["only these words"])
    splits = prepare_texts(corpus(), tokenizer=tok, max_length=4)
    assert splits.tokenizer is tok and tok.vocab_size == 5
    with pytest.raises(ValueError, match="val_fraction"):
        prepare_texts(corpus(), val_fraction=1.5)
    with pytest.raises(ValueError, match="single class"):
        prepare_texts(["a", "b"], ["x", "x"])
    with pytest.raises(TypeError, match="LabelledTexts"):
        prepare_texts({"texts": []})


# -- corpora ------------------------------------------------------------------------------------


def test_stdlib_functions_labels_function_sources_with_their_package(tmp_path):
    data = stdlib_functions(packages=("json", "html"))
    assert data.classes == ["html", "json"] and len(data) > 40
    assert all(text.lstrip().startswith(("def ", "async def ")) for text in data.texts)
    again = read_text_table(data.to_csv(tmp_path / "stdlib.csv"), "text", "label")
    assert again.texts == data.texts
    balanced = stdlib_functions(packages=("json", "html"), max_per_class=10)
    assert balanced.counts() == {"html": 10, "json": 10}
    with pytest.raises(FileNotFoundError, match="no_such_package"):
        stdlib_functions(packages=("json", "no_such_package"))


def test_rotten_tomatoes_reads_fresh_and_rotten_reviews_from_the_file(tmp_path):
    path = tmp_path / "rt.csv.bz2"
    with bz2.open(path, "wt", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([["category", "text", "movie_name"], ["fresh", "A joy.", "m"],
                                      ["rotten", "A bore.", "m"], ["plot", "A man walks.", "m"]])
    data = rotten_tomatoes(path)
    assert data.texts == ["A joy.", "A bore."] and data.labels == ["fresh", "rotten"]
    with pytest.raises(FileNotFoundError):
        rotten_tomatoes(tmp_path / "missing.csv.bz2")


# -- models -------------------------------------------------------------------------------------

VARIANTS = [
    ("lstm", {}),
    ("gru", {"pooling": "mean"}),
    ("lstm", {"bidirectional": True, "num_layers": 2}),
    ("gru", {"bidirectional": True, "pooling": "mean"}),
    ("transformer", {}),
]


def ids_with_padding():
    ids = np.array([[5, 3, 9, 4, 0, 0], [2, 2, 2, 2, 7, 1], [8, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    return ids, np.concatenate([ids, np.zeros((len(ids), 5), dtype=ids.dtype)], axis=1)


@pytest.mark.parametrize("kind, options", VARIANTS)
def test_classifiers_give_one_score_per_class_and_ignore_padding(kind, options):
    gn.seed(0)
    model = text_classifier(kind, vocab_size=10, num_classes=3, max_length=16, **options)
    model.eval()
    ids, padded = ids_with_padding()
    logits = model(Tensor(ids))
    assert logits.shape == (4, 3) and np.isfinite(logits.numpy()).all()
    np.testing.assert_allclose(model(Tensor(padded)).numpy(), logits.numpy(), rtol=1e-5, atol=1e-6)
    # nor does it change what the model learns: every gradient is the same
    gradients = []
    for batch in (ids, padded):
        model.zero_grad()
        model(Tensor(batch)).sum().backward()
        gradients.append([p.grad.numpy().copy() for p in model.parameters()])
    for short, long in zip(*gradients):
        np.testing.assert_allclose(long, short, rtol=1e-4, atol=1e-6)


def test_padding_changes_the_scores_of_a_model_that_does_not_mask():
    # the check above has teeth: reading the padding as tokens does change the output
    gn.seed(0)
    model = RecurrentTextClassifier(10, 3)
    ids, padded = ids_with_padding()
    rnn_out, _ = model.rnns[0](model.embedding(Tensor(padded)))
    unmasked = model.head(rnn_out[:, -1]).numpy()
    assert not np.allclose(unmasked, model(Tensor(ids)).numpy(), atol=1e-4)


def test_bidirectional_classifier_on_unpadded_texts_is_a_bidirectional_lstm():
    gn.seed(0)
    model = RecurrentTextClassifier(10, 3, embedding_dim=6, hidden_size=5, bidirectional=True)
    reference = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
    for name, parameter in model.rnns[0].named_parameters():
        getattr(reference, name)._data[...] = parameter.numpy()
        getattr(reference, name + "_reverse")._data[...] = getattr(model.rnns_reverse[0], name).numpy()
    ids = Tensor(np.array([[1, 2, 3, 4], [5, 6, 7, 8]]))
    _, (h_n, _) = reference(model.embedding(ids))  # h_n: (2 directions, N, hidden)
    expected = model.head(gn.ops.concatenate([h_n[0], h_n[1]], axis=-1))
    np.testing.assert_allclose(model(ids).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_text_classifier_builder_and_errors():
    assert set(TEXT_CLASSIFIERS) == {"lstm", "gru", "transformer"}
    assert text_classifier("transformer", 10, 2, max_length=7).max_length == 7
    assert isinstance(text_classifier("gru", 10, 2, max_length=7), RecurrentTextClassifier)
    with pytest.raises(ValueError, match="unknown text classifier"):
        text_classifier("cnn", 10, 2)
    with pytest.raises(ValueError, match="pooling"):
        RecurrentTextClassifier(10, 2, pooling="max")
    with pytest.raises(ValueError, match=r"token ids of shape \(N, T\)"):
        RecurrentTextClassifier(10, 2)(Tensor(np.zeros((2, 3, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="max_length=4"):
        TransformerTextClassifier(10, 2, max_length=4)(Tensor(np.ones((1, 6), dtype=np.int64)))


# -- learning -----------------------------------------------------------------------------------


def needle_task(n, seed):
    """Texts of 3 to 10 random words; the label says whether the word 'needle' is among them."""
    generator = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20)]
    texts, labels = [], []
    for i in range(n):
        text = list(generator.choice(words, generator.integers(3, 11)))
        if i % 2:
            text[generator.integers(len(text))] = "needle"
        texts.append(" ".join(text))
        labels.append("yes" if i % 2 else "no")
    return LabelledTexts(texts, labels)


@pytest.mark.parametrize("kind, options, epochs", [("lstm", {"hidden_size": 32, "embedding_dim": 16}, 12),
                                                   ("transformer", {"dim": 32, "heads": 2, "depth": 1}, 8)])
def test_classifiers_learn_whether_a_word_appears(kind, options, epochs):
    gn.seed(0)
    splits = prepare_texts(needle_task(480, seed=1), max_length=12, seed=0)
    model = text_classifier(kind, splits.tokenizer.vocab_size, len(splits.classes), max_length=12, **options)
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        for ids, labels in DataLoader(splits.train, batch_size=32, shuffle=True, seed=0):
            loss = nn.functional.cross_entropy(model(ids), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert gn.train.evaluate(model, splits.val)["acc"] >= 0.95


def test_text_baseline_scores_accuracy_and_macro_f1():
    from glassnet.lab.text_baseline import text_baseline

    train, val = needle_task(400, seed=1), needle_task(100, seed=2)
    scores = text_baseline(train.texts, train.labels, val.texts, val.labels)
    assert scores["accuracy"] >= 0.95 and 0 <= scores["macro_f1"] <= 1 and scores["features"] > 20
    with pytest.raises(ValueError, match="one label per text"):
        text_baseline(train.texts, train.labels[:-1], val.texts, val.labels)


@pytest.mark.slow
def test_on_the_standard_library_a_gru_comes_near_the_bag_of_words_baseline():
    """Which package a function comes from, on 9 packages (~4,200 functions): the
    bag-of-words baseline scores about 0.9; a GRU reading the words in order gets close."""
    from glassnet.lab.text_baseline import text_baseline

    gn.seed(0)
    splits = prepare_texts(stdlib_functions(), max_length=128, seed=0)
    baseline = text_baseline(splits.train.texts, [splits.classes[i] for i in splits.train.labels],
                             splits.val.texts, [splits.classes[i] for i in splits.val.labels])
    model = text_classifier("gru", splits.tokenizer.vocab_size, len(splits.classes), pooling="mean")
    optimizer = gn.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(8):
        for ids, labels in DataLoader(splits.train, batch_size=64, shuffle=True, seed=0):
            loss = nn.functional.cross_entropy(model(ids), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    accuracy = gn.train.evaluate(model, splits.val)["acc"]
    assert baseline["accuracy"] > 0.8
    assert accuracy > baseline["accuracy"] - 0.15
