"""Unit tests of words.py, run by a plain python3 without the host (see
examples/python-map/test_handlers.py for the PYTHONPATH of a build tree):

    PYTHONPATH=../../build/python python3 -m unittest test_words
"""
import unittest

from sluice import Datum

from words import split_words


class SplitWordsTest(unittest.TestCase):
    def test_one_keyed_message_per_word(self):
        out = list(split_words(Datum(b"1")))
        self.assertEqual([m.value for m in out],
                         [b"a", b"sluice", b"gate", b"holds", b"the", b"river"])
        self.assertEqual([m.keys for m in out],
                         [["a"], ["sluice"], ["gate"], ["holds"], ["the"], ["river"]])

    def test_sentences_cycle(self):
        self.assertEqual([m.value for m in split_words(Datum(b"5"))],
                         [m.value for m in split_words(Datum(b"0"))])


if __name__ == "__main__":
    unittest.main()
