"""The handler of examples/side-input-deny-list: drops the orders of denied customers.

The deny-list side input is the bytes of deny-list.txt. `deny_set` turns them into a
set once per version (sluice.side_input caches its result until the file changes), so
the per-order cost is one cached lookup and one set membership test.
"""
import sys

import sluice
from sluice import Datum


def deny_set(value: bytes) -> frozenset[str]:
    """One name per line; blank lines, surrounding spaces and '#' comments are ignored."""
    names = (line.split("#", 1)[0].strip() for line in value.decode().splitlines())
    return frozenset(name for name in names if name)


class Screen(sluice.Mapper):
    def on_side_input(self, name: str, value: bytes, version: int) -> None:
        # Called at start and once per new version, before the first order that sees
        # it. Parsing here through the same cache means the handler does not parse again.
        names = sluice.side_input(name, parse=deny_set)
        print(f"screen: {name} version {version}: {len(names)} names", file=sys.stderr, flush=True)

    def handler(self, keys: list[str], datum: Datum):
        # keys is [customer] (the source's `key: customer`); [] when an order has none,
        # and such an order is let through: only named customers are denied.
        if keys and keys[0] in sluice.side_input("deny-list", parse=deny_set):
            return None  # dropped (counted as dropped in the summary)
        return datum.value
