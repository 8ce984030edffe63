"""The model of examples/serving-scoring: a linear scorer over a JSON feature vector."""
import json

import numpy as np

from sluice import Datum, Mapper, Message


class Scorer(Mapper):
    """Made once per worker as Scorer(**args): the weights become a numpy array once."""

    def __init__(self, weights: list[float], threshold: float = 0.0):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.threshold = threshold

    def handler(self, keys: list[str], datum: Datum) -> Message:
        request = json.loads(datum.value)
        vector = np.asarray(request["vector"], dtype=np.float64)
        if vector.shape != self.weights.shape:
            raise ValueError(f"the vector has {vector.size} values; the model takes {self.weights.size}")
        score = float(vector @ self.weights)
        return Message(json.dumps({
            "score": round(score, 4),
            "label": "match" if score >= self.threshold else "no-match",
        }))
