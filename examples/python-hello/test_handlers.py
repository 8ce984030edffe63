"""Unit tests of handlers.py without the host: python3 -m unittest test_handlers
(with the sluice module importable: installed, or PYTHONPATH=<build>/python)."""
import unittest

from sluice import Datum

from handlers import shout


class ShoutTest(unittest.TestCase):
    def test_upper_cases_and_counts(self):
        self.assertEqual(shout(Datum(b"hello")).value, b"HELLO 5")

    def test_empty_line_is_filtered_out(self):
        self.assertIsNone(shout(Datum(b"")))


if __name__ == "__main__":
    unittest.main()
