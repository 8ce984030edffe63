"""The handler of examples/python-numpy: scores JSON vectors against a weight vector."""
import json

import numpy as np

from sluice import Datum, Mapper, Message


class Scorer(Mapper):
    """Made once per worker as Scorer(**args): the weights become a numpy array once."""

    def __init__(self, weights: list[float], threshold: float = 0.0):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.threshold = threshold

    def handler(self, keys: list[str], datum: Datum) -> Message:
        record = json.loads(datum.value)
        vector = np.asarray(record["vector"], dtype=np.float64)
        if vector.shape != self.weights.shape:
            raise ValueError(f"vector {record['id']} has {vector.size} values, "
                             f"the weights {self.weights.size}")
        score = float(vector @ self.weights)
        norm = float(np.linalg.norm(vector))
        return Message(json.dumps({
            "id": record["id"],
            "score": round(score, 4),
            "norm": round(norm, 4),
            "label": "match" if score >= self.threshold else "no-match",
        }))
