"""Ranking metrics with trec_eval's definitions (graded gains for nDCG, binary for the rest)."""

from __future__ import annotations

import math


def ndcg_at(ranked: list[str], gains: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first ``k`` results (linear gains)."""
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], gains: dict[str, int], k: int = 100) -> float:
    """Share of the relevant documents found in the first ``k`` results."""
    relevant = {doc for doc, g in gains.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def average_precision(ranked: list[str], gains: dict[str, int]) -> float:
    """Average precision over the ranking given (trec_eval's ``map``)."""
    relevant = {doc for doc, g in gains.items() if g > 0}
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for rank, doc in enumerate(ranked, start=1):
        if doc in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


def summarise(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MAP over the judged queries of ``runs``."""
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    return {
        "ndcg@10": sum(ndcg_at(runs.get(q, []), qrels[q]) for q in judged) / len(judged),
        "recall@100": sum(recall_at(runs.get(q, []), qrels[q]) for q in judged) / len(judged),
        "map": sum(average_precision(runs.get(q, []), qrels[q]) for q in judged) / len(judged),
    }
