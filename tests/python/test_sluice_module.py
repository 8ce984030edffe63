"""The `sluice` extension module in a plain /usr/bin/python3 (no host): what a handler
author's unit tests use. Run by ctest (tests/python/CMakeLists.txt) with PYTHONPATH set
to the build tree's python/ folder:

    PYTHONPATH=build/python /usr/bin/python3 -m unittest tests/python/test_sluice_module.py
"""
import datetime
import os
import unittest

import sluice
from sluice import DROP, DROP_TAG, Datum, Mapper, Message, Messages

UTC = datetime.timezone.utc


class ModuleTest(unittest.TestCase):
    def test_is_the_extension_module(self):
        # The extension file, not a built-in (that one exists only inside sluice run).
        self.assertTrue(sluice.__file__.endswith(".so"), sluice.__file__)
        expected = os.environ.get("SLUICE_EXPECT_MODULE_DIR")
        if expected:
            self.assertEqual(os.path.dirname(os.path.realpath(sluice.__file__)),
                             os.path.realpath(expected))

    def test_members(self):
        for name in ("Datum", "Message", "Messages", "Mapper", "DROP", "DROP_TAG"):
            self.assertTrue(hasattr(sluice, name), name)

    def test_help_is_useful(self):
        doc = sluice.__doc__
        for word in ("Datum", "Message", "Messages", "Mapper", "DROP", "handler(datum)",
                     "handler(keys, datum)", "None"):
            self.assertIn(word, doc)
        for cls in (Datum, Message, Messages, Mapper):
            self.assertTrue(cls.__doc__ and len(cls.__doc__) > 40, cls)
        # Every public method and property has a docstring.
        for cls in (Datum, Message, Messages):
            for name, member in vars(cls).items():
                if name.startswith("_"):
                    continue
                self.assertTrue(getattr(member, "__doc__", None), f"{cls.__name__}.{name}")
        import pydoc
        text = pydoc.render_doc(sluice, renderer=pydoc.plaintext)
        self.assertIn("class Datum", text)
        self.assertIn("event_time_ms", text)


class DatumTest(unittest.TestCase):
    def test_defaults(self):
        d = Datum(b"v")
        self.assertEqual(d.value, b"v")
        self.assertEqual(d.keys, [])
        self.assertIsNone(d.event_time)
        self.assertIsNone(d.watermark)
        self.assertIsNone(d.event_time_ms)
        self.assertEqual(d.headers, {})
        self.assertEqual(d.id, "")
        self.assertEqual(d.tags, [])

    def test_all_fields(self):
        t = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
        d = Datum("text", keys=["k1", "k2"], event_time=t, watermark=1_000, headers={"a": "b"},
                  id="src-1", tags=["t"])
        self.assertEqual(d.value, b"text")  # str is UTF-8 encoded
        self.assertEqual(d.keys, ["k1", "k2"])
        self.assertEqual(d.event_time, t)
        self.assertEqual(d.event_time.tzinfo, UTC)
        self.assertEqual(d.event_time_ms, int(t.timestamp() * 1000))
        self.assertEqual(d.watermark, datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
        self.assertEqual(d.watermark_ms, 1000)
        self.assertEqual(d.headers, {"a": "b"})
        self.assertEqual(d.id, "src-1")
        self.assertEqual(d.tags, ["t"])
        self.assertIn("Datum(b'text'", repr(d))

    def test_naive_datetime_is_utc(self):
        d = Datum(b"", event_time=datetime.datetime(1970, 1, 1, 0, 0, 2))
        self.assertEqual(d.event_time_ms, 2000)

    def test_bad_types(self):
        cases = [
            (lambda: Datum(5), "Datum value must be bytes or str, not int"),
            (lambda: Datum(b"", keys="k"), "Datum keys must be a list of str, not a single str"),
            (lambda: Datum(b"", keys=[1]), "Datum keys must be a list of str, but it holds int"),
            (lambda: Datum(b"", keys=5), "Datum keys must be a list of str, not int"),
            (lambda: Datum(b"", event_time="now"),
             "Datum event_time must be a datetime or an int (ms), not str"),
            (lambda: Datum(b"", headers=[("a", "b")]),
             "Datum headers must be a dict of str to str, not list"),
            (lambda: Datum(b"", headers={"a": 1}), "Datum headers must map str to str"),
            (lambda: Datum(b"", id=3), "Datum id must be str, not int"),
            (lambda: Datum(b"", tags=[None]), "Datum tags must be a list of str"),
        ]
        for make, message in cases:
            with self.subTest(message):
                with self.assertRaises(TypeError) as cm:
                    make()
                self.assertIn(message, str(cm.exception))

    def test_out_of_range_time(self):
        with self.assertRaises(ValueError):
            Datum(b"", event_time=1 << 70)

    def test_read_only(self):
        with self.assertRaises(AttributeError):
            Datum(b"").value = b"x"


class MessageTest(unittest.TestCase):
    def test_value_only(self):
        m = Message(b"out")
        self.assertEqual(m.value, b"out")
        self.assertIsNone(m.keys)  # the input's keys are kept
        self.assertEqual(m.tags, [])
        self.assertIsNone(m.event_time)
        self.assertEqual(m.headers, {})
        self.assertIsNone(m.offset)
        self.assertFalse(m.is_drop)
        self.assertEqual(Message("é").value, "é".encode())
        self.assertEqual(Message(bytearray(b"ba")).value, b"ba")

    def test_keys_and_tags(self):
        m = Message(b"v", keys=["a"], tags=["big"])
        self.assertEqual(m.keys, ["a"])
        self.assertEqual(m.tags, ["big"])
        self.assertEqual(Message(b"v", keys=[]).keys, [])
        self.assertIn("tags=['big']", repr(m))

    def test_event_time_datetime(self):
        t = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        m = Message(b"v", event_time=t)
        self.assertEqual(m.event_time, t)
        self.assertEqual(m.event_time_ms, int(t.timestamp()) * 1000)
        other_zone = datetime.timezone(datetime.timedelta(hours=2))
        self.assertEqual(Message(b"v", event_time=t.astimezone(other_zone)).event_time, t)

    def test_event_time_int_ms(self):
        m = Message(b"v", event_time=1_700_000_000_123)
        self.assertEqual(m.event_time_ms, 1_700_000_000_123)
        self.assertEqual(m.event_time,
                         datetime.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC))
        self.assertIsNone(Message(b"v", event_time=None).event_time_ms)

    def test_headers(self):
        m = Message(b"v", headers={"content-type": "json", "x": "1"})
        self.assertEqual(m.headers, {"content-type": "json", "x": "1"})

    def test_offset(self):
        self.assertEqual(Message(b"v", offset=b"o-1").offset, b"o-1")
        self.assertEqual(Message(b"v", offset="o-2").offset, b"o-2")
        self.assertEqual(Message(b"v", offset=42).offset, b"42")

        class Offset:  # numaflow's Offset shape
            offset = b"p-7"

        self.assertEqual(Message(b"v", offset=Offset()).offset, b"p-7")

    def test_payload(self):
        self.assertEqual(Message(payload=b"p").value, b"p")
        with self.assertRaisesRegex(TypeError, "value or payload, not both"):
            Message(b"v", payload=b"p")
        with self.assertRaisesRegex(TypeError, "Message needs a value"):
            Message()

    def test_bad_types(self):
        cases = [
            (lambda: Message(5), "Message value must be bytes or str, not int"),
            (lambda: Message(None), "Message needs a value (bytes or str)"),
            (lambda: Message(b"v", keys="k"), "Message keys must be a list of str, not a single str"),
            (lambda: Message(b"v", tags=[b"t"]), "Message tags must be a list of str, but it holds bytes"),
            (lambda: Message(b"v", event_time=1.5),
             "Message event_time must be a datetime or an int (ms), not float"),
            (lambda: Message(b"v", event_time=True),
             "Message event_time must be a datetime or an int (ms), not bool"),
            (lambda: Message(b"v", headers="h"), "Message headers must be a dict of str to str, not str"),
            (lambda: Message(b"v", headers={"a": b"b"}), "Message headers must map str to str"),
            (lambda: Message(b"v", offset=1.0), "Message offset must be bytes, str, int or an Offset, not float"),
        ]
        for make, message in cases:
            with self.subTest(message):
                with self.assertRaises(TypeError) as cm:
                    make()
                self.assertIn(message, str(cm.exception))


class DropTest(unittest.TestCase):
    def test_drop(self):
        self.assertTrue(DROP.is_drop)
        self.assertEqual(DROP.tags, [DROP_TAG])
        d = Message.to_drop()
        self.assertTrue(d.is_drop)
        self.assertEqual(d.value, b"")
        self.assertEqual(DROP_TAG, "U+005C__DROP__")
        self.assertTrue(Message(b"v", tags=[DROP_TAG]).is_drop)


class MessagesTest(unittest.TestCase):
    def test_list_behaviour(self):
        ms = Messages(Message(b"a"), Message(b"b"))
        ms.append(Message(b"c"))
        self.assertEqual(len(ms), 3)
        self.assertEqual([m.value for m in ms], [b"a", b"b", b"c"])
        self.assertEqual(ms[-1].value, b"c")
        self.assertEqual([m.value for m in ms.items()], [b"a", b"b", b"c"])
        with self.assertRaises(IndexError):
            ms[3]
        self.assertEqual(len(Messages()), 0)
        self.assertIn("Messages(Message(b'a')", repr(ms))

    def test_bad_items(self):
        with self.assertRaisesRegex(TypeError, "Messages holds sluice.Message, not bytes"):
            Messages(b"a")
        with self.assertRaisesRegex(TypeError, "Messages.append takes a sluice.Message, not str"):
            Messages().append("a")


class MapperTest(unittest.TestCase):
    def test_subclass_called(self):
        class Upper(Mapper):
            def __init__(self, suffix=b""):
                self.suffix = suffix

            def handler(self, keys, datum):
                return Messages(Message(datum.value.upper() + self.suffix, keys=keys))

        mapper = Upper(suffix=b"!")
        d = Datum(b"hi", keys=["k"])
        out = mapper(d.keys, d)
        self.assertIsInstance(out, Messages)
        self.assertEqual(out[0].value, b"HI!")
        self.assertEqual(out[0].keys, ["k"])
        self.assertEqual(Mapper.__module__, "sluice")

    def test_abstract(self):
        class NoHandler(Mapper):
            pass

        with self.assertRaises(TypeError):
            NoHandler()


class HandlerShapesTest(unittest.TestCase):
    """The handler shapes of docs/python-guide.md, called the way a unit test would."""

    def test_function_handlers(self):
        def upper(datum):
            return datum.value.upper()

        def route(keys, datum):
            n = int(datum.value)
            return Messages(Message(datum.value, keys=keys, tags=["even" if n % 2 == 0 else "odd"]))

        def only_big(datum):
            return datum.value if len(datum.value) > 3 else None

        self.assertEqual(upper(Datum(b"hello")), b"HELLO")
        out = route(["k"], Datum(b"4", keys=["k"]))
        self.assertEqual(out[0].tags, ["even"])
        self.assertIsNone(only_big(Datum(b"abc")))



class NumaflowServersTest(unittest.TestCase):
    def test_server_names_import_and_start_explains(self):
        # A ported handler file keeps `from sluice import MapServer` working; its
        # __main__ block, if someone runs it, says what to do instead.
        for name in ("MapServer", "MapAsyncServer", "MapStreamAsyncServer",
                     "BatchMapAsyncServer", "SourceTransformServer", "SinkServer",
                     "SinkAsyncServer", "SourceAsyncServer", "ReduceAsyncServer",
                     "ReduceStreamAsyncServer", "SessionReduceAsyncServer"):
            server = getattr(sluice, name)(lambda keys, datum: None)
            with self.assertRaises(RuntimeError) as caught:
                server.start()
            self.assertIn(name + ".start(): Sluice has no per-handler server", str(caught.exception))
            self.assertIn("sluice run flow.yaml", str(caught.exception))


class ReducerApiTest(unittest.TestCase):
    """A reducer unit-tested without the host: Datums, Metadata and NonBlockingIterator
    are made by hand, the handler run with asyncio."""

    def test_a_reducer_and_a_streamer_run_by_hand(self):
        import asyncio
        from sluice import (Datums, IntervalWindow, Metadata, NonBlockingIterator,
                            ReduceStreamer, Reducer, SessionReduceStreamer, SessionReducer)

        class Sum(Reducer):
            async def handler(self, keys, datums, md):
                total = 0
                async for d in datums:
                    total += int(d.value)
                return Messages(Message(b"%d" % total, keys=keys))

        class Echo(ReduceStreamer):
            async def handler(self, keys, datums, output, md):
                for d in datums:
                    await output.put(d.value)

        md = Metadata(IntervalWindow(0, 4000))
        self.assertEqual(md.interval_window.start, datetime.datetime(1970, 1, 1, tzinfo=UTC))
        self.assertEqual(md.interval_window.end, datetime.datetime(1970, 1, 1, 0, 0, 4, tzinfo=UTC))
        self.assertEqual((md.interval_window.start_ms, md.interval_window.end_ms), (0, 4000))
        datums = Datums([Datum(b"1"), Datum(b"2")])
        out = asyncio.run(Sum().handler(["k"], datums, md))
        self.assertEqual(out[0].value, b"3")
        output = NonBlockingIterator()
        asyncio.run(Echo().handler(["k"], datums, output, md))
        self.assertEqual(output.items(), [b"1", b"2"])
        self.assertIs(SessionReduceStreamer, SessionReducer)
        with self.assertRaises(TypeError):
            Reducer()  # abstract: handler is not defined


class SideInputStandInTest(unittest.TestCase):
    """Outside sluice run there is no host: the side-input functions say so, and a unit
    test replaces them with fakes that the handler's own calls then reach."""

    def test_raises_without_a_host(self):
        with self.assertRaises(RuntimeError) as caught:
            sluice.side_input("rates")
        self.assertIn("only inside sluice run", str(caught.exception))
        with self.assertRaises(RuntimeError):
            sluice.side_input_version("rates")

    def test_can_be_replaced_in_a_test(self):
        from unittest import mock

        def handler(datum):
            return datum.value + sluice.side_input("suffix")

        with mock.patch("sluice.side_input", lambda name, parse=None: b"!"):
            self.assertEqual(handler(Datum(b"hi")), b"hi!")


if __name__ == "__main__":
    unittest.main()
