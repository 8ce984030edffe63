"""Unit tests of handlers.py, run by a plain python3 without the host: the `sluice`
module is also an extension module (installed by `cmake --install`; in a build tree it
is build/python/). From this folder:

    python3 -m unittest test_handlers                                  # installed
    PYTHONPATH=../../build/python python3 -m unittest test_handlers    # build tree
"""
import json
import unittest

from sluice import Datum, Message

from handlers import price


def order(customer, qty, unit_price, id=1):
    value = json.dumps({"id": id, "customer": customer, "qty": qty, "unit_price": unit_price})
    return Datum(value, keys=[customer])


class PriceTest(unittest.TestCase):
    def call(self, datum):
        # As the flow calls it: numaflow-style, with the message's keys.
        return price(datum.keys, datum)

    def test_big_order(self):
        out = self.call(order("ada", 5, 50.0))
        self.assertIsInstance(out, Message)
        self.assertEqual(out.tags, ["big"])
        self.assertIsNone(out.keys)  # the input's keys are kept
        self.assertEqual(json.loads(out.value), {"id": 1, "customer": "Ada", "total": 250.0})

    def test_small_order(self):
        out = self.call(order("bob", 1, 19.5, id=2))
        self.assertEqual(out.tags, ["small"])
        self.assertEqual(json.loads(out.value)["total"], 19.5)

    def test_exactly_100_is_small(self):
        self.assertEqual(self.call(order("cy", 4, 25)).tags, ["small"])

    def test_total_is_rounded(self):
        self.assertEqual(json.loads(self.call(order("dee", 3, 33.67)).value)["total"], 101.01)

    def test_test_orders_are_filtered_out(self):
        self.assertIsNone(self.call(order("test", 100, 9.99)))

    def test_bad_json_raises(self):
        # In a flow this fails the message and the stage's onError policy decides.
        with self.assertRaises(json.JSONDecodeError):
            self.call(Datum(b"not json", keys=["eve"]))


if __name__ == "__main__":
    unittest.main()
