"""The handler of examples/python-map: prices an order and tags it big or small."""
import json

from sluice import Datum, Message


def price(keys: list[str], datum: Datum):
    """numaflow-style: called with the message's keys (here: the customer) and the datum."""
    if keys == ["test"]:
        return None  # filtered out: test orders go nowhere
    order = json.loads(datum.value)
    total = round(order["qty"] * order["unit_price"], 2)
    priced = {"id": order["id"], "customer": order["customer"].title(), "total": total}
    return Message(json.dumps(priced), tags=["big" if total > 100 else "small"])
