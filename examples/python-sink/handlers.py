"""The sink of examples/python-sink: a CSV ledger of orders, as a numaflow-style Sinker."""
import csv
import json

from sluice import Datum, Response, Responses, Sinker


class LedgerWriter(Sinker):
    """Made once per worker with the flow's args; handler() is called once per batch."""

    def __init__(self, path: str):
        self.file = open(path, "w", newline="")
        self.csv = csv.writer(self.file, lineterminator="\n")
        self.csv.writerow(["order", "customer", "total"])

    def handler(self, datums) -> Responses:
        responses = Responses()
        for datum in datums:  # Datum objects; datum.id is unique in the batch
            try:
                order = json.loads(datum.value)
                total = sum(item["qty"] * item["price"] for item in order["items"])
                row = [order["id"], order["customer"], f"{total:.2f}"]
            except (ValueError, KeyError, TypeError):
                # Not an order we can write: onError sends it to the `rejected` sink.
                responses.append(Response.as_fallback(datum.id))
                continue
            self.csv.writerow(row)
            responses.append(Response.as_success(datum.id))
        self.file.flush()  # written before the batch is acknowledged
        return responses

    def close(self):
        """Called once when the flow drains (Sluice's finish)."""
        self.file.close()
