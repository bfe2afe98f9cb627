"""Independent Kaggle metrics for the yt8m-score tests: plain Python loops.

Written from the metric definitions in docs/scoring.md (Kaggle 2018 GAP@20,
Kaggle 2019 MAP@K with unrated pairs ignored), without calling yt8m code,
so the tests can catch a wrong scorer.
"""


def parse_csv_text(text):
    """Header and `[(first, second)]` rows of a two-field submission."""
    lines = text.split("\n")
    header = lines[0]
    rows = []
    for line in lines[1:]:
        if line == "":
            continue
        first, second = line.split(",")
        rows.append((first, second))
    return header, rows


def gap(csv_text, labels, top_k=20):
    """Global average precision of a `VideoId,LabelConfidencePairs` CSV.

    `labels`: {video_id: set of positive labels} (all labelled videos).
    Per video the top_k highest scores (ties: earlier in the line first);
    pooled; ranked by descending score, negatives before positives among
    equal scores; sum of precision@i at the positives / all positives.
    """
    header, rows = parse_csv_text(csv_text)
    assert header == "VideoId,LabelConfidencePairs"
    pool = []
    for video_id, pairs_text in rows:
        tokens = pairs_text.split()
        pairs = []
        for i in range(0, len(tokens), 2):
            pairs.append((int(tokens[i]), float(tokens[i + 1])))
        # Selection sort by descending score, keeping the line order of ties.
        chosen = []
        remaining = list(pairs)
        while remaining and len(chosen) < top_k:
            best = 0
            for j in range(1, len(remaining)):
                if remaining[j][1] > remaining[best][1]:
                    best = j
            chosen.append(remaining.pop(best))
        for label, score in chosen:
            pool.append((score, 1 if label in labels[video_id] else 0))
    # Descending score; among equal scores the negatives (0) first.
    pool.sort(key=lambda item: (-item[0], item[1]))
    total_positives = 0
    for video_labels in labels.values():
        total_positives += len(video_labels)
    hits = 0
    precision_sum = 0.0
    for rank, (_, relevant) in enumerate(pool, start=1):
        if relevant:
            hits += 1
            precision_sum += hits / rank
    return precision_sum / total_positives


def segment_map(csv_text, ratings, k=100000, classes=None):
    """MAP@k of a `Class,Segments` CSV over rated segments.

    `ratings`: {(segment_id, class): score}. For each class with at least
    one positive rating (and in `classes` if given): the first k entries of
    its line, the unrated ones dropped, AP = sum of precision@i at the
    positives / number of positive ratings of the class; a class without a
    line scores 0. MAP = mean over those classes.
    """
    header, rows = parse_csv_text(csv_text)
    assert header == "Class,Segments"
    lines = {}
    for class_text, entries in rows:
        lines[int(class_text)] = entries.split(" ") if entries else []
    positives = {}
    for (segment_id, class_id), score in ratings.items():
        if score > 0:
            positives[class_id] = positives.get(class_id, 0) + 1
    aps = []
    for class_id in sorted(positives):
        if classes is not None and class_id not in classes:
            continue
        kept = []
        for segment_id in lines.get(class_id, [])[:k]:
            if (segment_id, class_id) in ratings:
                kept.append(ratings[(segment_id, class_id)] > 0)
        hits = 0
        precision_sum = 0.0
        for rank, relevant in enumerate(kept, start=1):
            if relevant:
                hits += 1
                precision_sum += hits / rank
        aps.append(precision_sum / positives[class_id])
    total = 0.0
    for ap in aps:
        total += ap
    return total / len(aps)
