"""Unit tests of screen.py, run by a plain python3 without the host (see
examples/python-map/test_handlers.py for where the `sluice` module comes from). There is
no host here, so sluice.side_input is replaced by a fake serving one deny-list. From
this folder:

    PYTHONPATH=../../build/python python3 -m unittest test_screen
"""
import contextlib
import io
import unittest
from unittest import mock

import sluice
from sluice import Datum

import screen

DENY_LIST = b"# a comment line\nmallory\n  trudy  # spaces and a comment\n\n"


class FakeSideInput:
    """sluice.side_input for one value: parses it at most once, as the host's cache does."""

    def __init__(self, value):
        self.value, self.parses, self.cached = value, 0, None

    def __call__(self, name, parse=None):
        assert name == "deny-list", name
        if parse is None:
            return self.value
        if self.cached is None:
            self.parses += 1
            self.cached = parse(self.value)
        return self.cached


def order(customer):
    return Datum(b'{"customer": "%s"}' % customer.encode(), keys=[customer] if customer else [])


class ScreenTest(unittest.TestCase):
    def setUp(self):
        self.side_input = FakeSideInput(DENY_LIST)
        patcher = mock.patch("sluice.side_input", self.side_input)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.screen = screen.Screen()

    def test_deny_set_skips_comments_blanks_and_spaces(self):
        self.assertEqual(screen.deny_set(DENY_LIST), {"mallory", "trudy"})
        self.assertEqual(screen.deny_set(b""), frozenset())

    def test_denied_customers_are_dropped(self):
        self.assertIsNone(self.screen.handler(["mallory"], order("mallory")))
        self.assertIsNone(self.screen.handler(["trudy"], order("trudy")))

    def test_other_customers_pass_unchanged(self):
        datum = order("ada")
        self.assertEqual(self.screen.handler(["ada"], datum), datum.value)

    def test_an_order_without_a_customer_passes(self):
        datum = order("")
        self.assertEqual(self.screen.handler([], datum), datum.value)

    def test_names_match_exactly(self):
        self.assertIsNotNone(self.screen.handler(["Mallory"], order("Mallory")))

    def test_on_side_input_logs_the_size_and_fills_the_cache(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.screen.on_side_input("deny-list", DENY_LIST, 7)
        self.assertEqual(stderr.getvalue(), "screen: deny-list version 7: 2 names\n")
        for name in ["ada", "mallory", "bob"]:
            self.screen.handler([name], order(name))
        self.assertEqual(self.side_input.parses, 1)  # parsed once for the version


if __name__ == "__main__":
    unittest.main()
