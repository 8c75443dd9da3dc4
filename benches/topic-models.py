#!/usr/bin/env python3
"""Train the learned edge of the shipped watch topics: one logistic regression per topic.

usage:
  benches/topic-models.py split  [--data FILE ...] [--out DIR]
  benches/topic-models.py train  [--data FILE ...] [--bin PATH] [--config PATH] [--topics-dir DIR]

`split` writes DIR/tune.jsonl and DIR/aside.jsonl: an item is set aside when the first byte of
sha256("newswatch-topics-aside:" + id) is below 64 (a quarter, fixed forever). Score either part
with `../shared/eval/score-topics --data DIR/aside.jsonl`. Tune and train on the tune part only.

`train` (needs scikit-learn and numpy: `pip install scikit-learn numpy`; the daemon needs no
Python) reads the labelled items, keeps the tune part, asks `newswatch match --without-models`
what the queries alone say, and per topic:
  1. turns each item into binary features (see `features`; src/topics/model.rs computes the same);
  2. picks the regularisation C, the number of weights kept and the thresholds low/high by 5-fold
     cross-validation on the tune part: an item matches when (query AND score >= low) OR score >= high
     (a tie goes to the first tried: the smaller C, then the fewer weights);
  3. fits the model on the whole tune part and writes DIR/<topic>.model.tsv: the thresholds, the
     bias and one `feature<TAB>weight` line per kept feature (the largest |weight| first;
     cross-validation scores each fold's model with only its kept weights, as shipped).
     high 1.01 means the cross-validation found no gain from the model: the query decides alone.
Rebuild the shipped files: benches/topic-models.py train --bin target/release/newswatch
"""
import argparse, collections, hashlib, json, os, subprocess, sys, tempfile

TOPICS = {"arms-deals": "arms_deals", "missile-launches": "missile_launches"}
DEFAULT_DATA = ["/work/shared/eval/topics-dev.jsonl", "/work/shared/eval/topics-dev2.jsonl"]
PREFIX = 5  # characters of a word's prefix and suffix features
MAX_FEATURES = [1000, 3000]  # the sizes --max-features tries by default
MIN_DF = 3

# --- the features (keep in step with src/topics/model.rs) --------------------------------------

DROPPED = set("\u00ad\u200b\u200c\u200d\u2060\ufeff\u0308")
FOLD = {"ß": "ss", "ẞ": "ss", "ä": "a", "Ä": "a", "ö": "o", "Ö": "o", "ü": "u", "Ü": "u", "ё": "е", "Ё": "е"}


def is_word_char(c):
    if c.isascii():
        return c.isalnum()
    return c.isalnum() or c in DROPPED or "\u0300" <= c <= "\u036f"


def fold_char(c):
    if c in FOLD:
        return FOLD[c]
    if c in DROPPED:
        return ""
    return c.lower()


def tokens(text):
    """Folded tokens as src/topics/normalize.rs makes them (runs of word characters, folded)."""
    out, cur = [], []
    for c in text:
        if is_word_char(c):
            cur.append(fold_char(c))
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return [t for t in out if t]


def features(title, text):
    """The set of binary features of one item: words, word pairs, 5-letter prefixes and suffixes
    of longer words (inflections, compound heads), and title prefixes."""
    f = set()
    for field, toks in (("title", tokens(title)), ("text", tokens(text))):
        for i, t in enumerate(toks):
            f.add("w:" + t)
            if i + 1 < len(toks):
                f.add("b:" + t + " " + toks[i + 1])
            if len(t) > PREFIX:
                f.add("p:" + t[:PREFIX])
                f.add("s:" + t[-PREFIX:])
            if field == "title":
                f.add("t:" + t[:PREFIX])
    return f


# --- data ----------------------------------------------------------------------------------------

def aside(item_id):
    return hashlib.sha256(("newswatch-topics-aside:" + str(item_id)).encode()).digest()[0] < 64


def load(paths):
    items = []
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            items += [json.loads(l) for l in fh if l.strip()]
    return items


def cmd_split(a):
    items = load(a.data)
    os.makedirs(a.out, exist_ok=True)
    parts = {"tune": [], "aside": []}
    for it in items:
        parts["aside" if aside(it["id"]) else "tune"].append(it)
    for name, rows in parts.items():
        with open(os.path.join(a.out, name + ".jsonl"), "w", encoding="utf-8") as fh:
            for it in rows:
                fh.write(json.dumps(it, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} items -> {os.path.join(a.out, name + '.jsonl')}")


def query_matches(a, items):
    """topic id -> set of item ids the queries alone match."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps({k: it[k] for k in ("id", "title", "text", "lang")}, ensure_ascii=False) + "\n")
        inp = f.name
    p = subprocess.run([a.bin, "--config", a.config, "match", "--without-models", "--input", inp],
                       capture_output=True, text=True)
    os.unlink(inp)
    if p.returncode != 0:
        sys.exit(f"newswatch match failed: {p.stderr.strip()[-2000:]}")
    got = collections.defaultdict(set)
    for line in p.stdout.splitlines():
        o = json.loads(line)
        for t in o.get("topics", []):
            got[t["id"]].add(o["id"])
    return got


def f1(gold, pred):
    tp = int((gold & pred).sum()); fp = int((~gold & pred).sum()); fn = int((gold & ~pred).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_thresholds(np, gold, query, score):
    """(F1, low, high) maximising F1 of (query AND score >= low) OR score >= high."""
    best = (f1(gold, query), 0.0, 1.01)
    for low in np.arange(0.0, 0.61, 0.02):
        for high in np.arange(0.5, 1.0, 0.02):
            if high <= low:
                continue
            pred = (query & (score >= low)) | (score >= high)
            s = f1(gold, pred)
            if s > best[0] + 1e-9:
                best = (s, float(low), float(high))
    return best


def kept(np, w, n):
    """Indices of the n weights of largest magnitude (the lines the model file keeps)."""
    return np.argsort(-np.abs(w), kind="stable")[:n]


def truncated_proba(np, m, X, n):
    """The score of the model as written to its file: bias plus only the kept weights."""
    w = m.coef_[0]
    keep = kept(np, w, n)
    z = m.intercept_[0] + X[:, keep] @ w[keep]
    return 1.0 / (1.0 + np.exp(-np.asarray(z).ravel()))


def cmd_train(a):
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    items = [it for it in load(a.data) if not aside(it["id"])]
    print(f"tune part: {len(items)} items (the set-aside part is never read here)")
    feats = [features(it["title"], it["text"]) for it in items]
    vec = CountVectorizer(analyzer=lambda s: s, binary=True, min_df=MIN_DF, lowercase=False)
    X = vec.fit_transform(feats)
    names = vec.get_feature_names_out()
    qm = query_matches(a, items)
    os.makedirs(a.topics_dir, exist_ok=True)
    for topic, label in TOPICS.items():
        y = np.array([bool(it[label]) for it in items])
        q = np.array([it["id"] in qm[topic] for it in items])
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=13)
        best = None
        sizes = sorted(a.max_features)
        for C in a.c:
            fits = [LogisticRegression(C=C, max_iter=2000).fit(X[tr], y[tr]) for tr, _ in folds.split(X, y)]
            for n in sizes:
                oof = np.zeros(len(items))
                for m, (_, te) in zip(fits, folds.split(X, y)):
                    oof[te] = truncated_proba(np, m, X[te], n)
                score, low, high = best_thresholds(np, y, q, oof)
                alone = max(f1(y, oof >= t) for t in np.arange(0.1, 0.95, 0.05))
                print(f"{topic}: C={C} {n} weights: cross-validated F1 queries {f1(y, q):.3f}, model alone "
                      f"{alone:.3f}, combined {score:.3f} (low {low:.2f}, high {high:.2f})")
                if best is None or score > best[0] + 1e-9:
                    best = (score, C, n, low, high)
        score, C, n, low, high = best
        m = LogisticRegression(C=C, max_iter=2000).fit(X, y)
        w = m.coef_[0]
        order = kept(np, w, n)
        path = os.path.join(a.topics_dir, topic + ".model.tsv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"# newswatch topic model: {topic}. Logistic regression over binary features of the\n")
            fh.write("# folded title and text (w: word, b: word pair, p:/s: 5-letter prefix/suffix of a longer\n")
            fh.write("# word, t: title word prefix). score = 1 / (1 + exp(-(bias + sum of the weights present))).\n")
            fh.write("# The topic matches when (its query matches AND score >= low) OR score >= high.\n")
            fh.write(f"# Trained on the tune part of topics-dev + topics-dev2 ({len(items)} items), C={C}, {n} weights;\n")
            fh.write(f"# cross-validated F1 {score:.3f}. Rebuild: benches/topic-models.py train\n")
            fh.write(f"low\t{low:.2f}\nhigh\t{high:.2f}\nbias\t{m.intercept_[0]:.6f}\n")
            for i in order:
                if abs(w[i]) >= 1e-4:
                    fh.write(f"{names[i]}\t{w[i]:.6f}\n")
        print(f"{topic}: wrote {path} ({len(order)} features)")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("--data", nargs="+", default=DEFAULT_DATA)
    s.add_argument("--out", default="/tmp/topics")
    t = sub.add_parser("train")
    t.add_argument("--data", nargs="+", default=DEFAULT_DATA)
    t.add_argument("--bin", default="target/release/newswatch")
    t.add_argument("--config", default="config.toml")
    t.add_argument("--topics-dir", default="contrib/topics")
    t.add_argument("--c", nargs="+", type=float, default=[0.1, 0.3, 1.0])
    t.add_argument("--max-features", nargs="+", type=int, default=MAX_FEATURES,
                   help="weights kept in the file (largest first), tried by cross-validation on the kept ones only")
    a = ap.parse_args()
    return cmd_split(a) if a.cmd == "split" else cmd_train(a)


if __name__ == "__main__":
    sys.exit(main())
