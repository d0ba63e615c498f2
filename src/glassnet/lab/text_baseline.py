"""The bag-of-words baseline for text classification: what a network reading the words in
order has to beat.

TF-IDF (each word and each pair of adjacent words, weighted by how rare it is across the
training texts) feeding a logistic regression: the order of words is lost beyond pairs,
yet on many tasks this linear model is hard to beat, and it trains in seconds. Its
vocabulary comes from the training texts only, as the network's does.

>>> texts = ["good film", "great film", "bad film", "awful film"] * 10
>>> labels = ["pos", "pos", "neg", "neg"] * 10
>>> scores = text_baseline(texts, labels, ["good fun", "awful mess"], ["pos", "neg"])
>>> scores["accuracy"], scores["macro_f1"]
(1.0, 1.0)
"""
import time

from ..extras import require


def text_baseline(train_texts, train_labels, val_texts, val_labels, analyzer="word", ngram_range=None,
                  max_features=200_000, C=10.0, seed=0):
    """Fit TF-IDF + logistic regression on the training texts and score it on the
    validation texts.

    Args:
        train_texts, val_texts: lists of strings.
        train_labels, val_labels: their classes (strings or integers).
        analyzer: ``"word"`` (lowercased words; pairs of words too, by default) or
            ``"char_wb"`` (runs of 2 to 5 characters inside words).
        ngram_range: the n-grams, ``(1, 2)`` for words and ``(2, 5)`` for characters by default.
        max_features: the most n-grams kept, the most frequent first.
        C: the inverse strength of the logistic regression's L2 penalty.

    Returns a dict: ``accuracy``, ``macro_f1`` (the F1 of each class, averaged with every
    class counting alike, so a rare class weighs as much as a common one), ``train_seconds``
    and ``features`` (the n-grams kept).
    """
    text = require("sklearn.feature_extraction.text", "the bag-of-words baseline", extra="data")
    linear_model = require("sklearn.linear_model", "the bag-of-words baseline", extra="data")
    metrics = require("sklearn.metrics", "the bag-of-words baseline", extra="data")
    if analyzer not in ("word", "char_wb"):
        raise ValueError(f"text_baseline: analyzer must be 'word' or 'char_wb', got {analyzer!r}")
    if len(train_texts) != len(train_labels) or len(val_texts) != len(val_labels):
        raise ValueError(f"text_baseline: one label per text: {len(train_texts)} training texts with "
                         f"{len(train_labels)} labels, {len(val_texts)} validation texts with {len(val_labels)} labels")
    ngram_range = ngram_range or ((1, 2) if analyzer == "word" else (2, 5))
    start = time.perf_counter()
    vectorizer = text.TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, max_features=max_features,
                                      sublinear_tf=True, lowercase=True)
    features = vectorizer.fit_transform(list(train_texts))
    classifier = linear_model.LogisticRegression(C=C, max_iter=2000, random_state=seed)
    classifier.fit(features, list(train_labels))
    seconds = time.perf_counter() - start
    predicted = classifier.predict(vectorizer.transform(list(val_texts)))
    val_labels = list(val_labels)
    return {
        "accuracy": float(metrics.accuracy_score(val_labels, predicted)),
        "macro_f1": float(metrics.f1_score(val_labels, predicted, average="macro", zero_division=0)),
        "train_seconds": seconds,
        "features": len(vectorizer.vocabulary_),
    }
