"""Per-example scores and their aggregation: accuracy, length-normalized accuracy, standard
error, and GSM8K's answer extraction and exact match (lm-eval's filters and normalization)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n), as lm-eval).

    The standard error of a single example is undefined: None (JSON null), not a made-up 0.
    """
    if not values:
        raise ValueError("no examples to aggregate")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def choice_predictions(loglikelihoods: Sequence[float], lengths: Sequence[int]) -> tuple[int, int]:
    """(argmax of log-likelihood, argmax of log-likelihood per character); ties go to the first."""
    lls = np.asarray(loglikelihoods, dtype=np.float64)
    return int(np.argmax(lls)), int(np.argmax(lls / np.asarray(lengths, dtype=np.float64)))


STRICT_ANSWER = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE_ANSWER = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
INVALID = "[invalid]"
_IGNORED = (",", r"\$", r"(?s).*#### ", r"\.$")


def strict_answer(text: str) -> str:
    """The number after the first ``####`` (lm-eval's strict-match), or ``[invalid]``."""
    match = STRICT_ANSWER.search(text)
    return match.group(1) if match else INVALID


def flexible_answer(text: str) -> str:
    """The last number in the text (lm-eval's flexible-extract), or ``[invalid]``."""
    matches = FLEXIBLE_ANSWER.findall(text)
    if not matches:
        return INVALID
    return next(group for group in matches[-1] if group)


def normalize_number(text: str) -> str:
    """lm-eval's gsm8k exact_match normalization: drop commas, ``$``, a trailing period; lower case."""
    for pattern in _IGNORED:
        text = re.sub(pattern, "", text)
    return text.lower()


def exact_match(predicted: str, reference: str) -> bool:
    return normalize_number(predicted) == normalize_number(reference)
