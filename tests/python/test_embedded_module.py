"""Inside `sluice run`, `import sluice` is the module built into libsluice-python.so, even
when the extension module's folder is on PYTHONPATH: built-in modules are found before
sys.path is searched, so a handler never gets a second, separate copy of the types.

Needs SLUICE_BIN (the sluice binary) and SLUICE_PYTHON_DIR (the extension's folder),
set by ctest (tests/python/CMakeLists.txt).
"""
import os
import subprocess
import tempfile
import textwrap
import unittest

HANDLER = textwrap.dedent("""\
    import sluice

    def where(datum):
        return " ".join([
            sluice.__spec__.origin,
            str(getattr(sluice, "__file__", None)),
            str(isinstance(datum, sluice.Datum)),
        ])
    """)

FLOW = textwrap.dedent("""\
    mode: job
    stages:
      - {name: in, source: generator, config: {count: 1, size: 8}}
      - {name: where, map: python, config: {module: handlers, function: where}}
      - {name: out, sink: stdout}
    """)


class EmbeddedModuleTest(unittest.TestCase):
    def test_builtin_module_wins_over_the_extension(self):
        sluice_bin = os.environ["SLUICE_BIN"]
        ext_dir = os.environ["SLUICE_PYTHON_DIR"]
        self.assertTrue(any(f.startswith("sluice.") and f.endswith(".so") for f in os.listdir(ext_dir)),
                        f"no extension module in {ext_dir}")
        with tempfile.TemporaryDirectory() as work:
            with open(os.path.join(work, "handlers.py"), "w") as f:
                f.write(HANDLER)
            with open(os.path.join(work, "flow.yaml"), "w") as f:
                f.write(FLOW)
            env = dict(os.environ, PYTHONPATH=ext_dir, PYTHONDONTWRITEBYTECODE="1")
            run = subprocess.run([sluice_bin, "run", os.path.join(work, "flow.yaml"), "--no-summary"],
                                 env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.strip(), "built-in None True", run.stderr)


if __name__ == "__main__":
    unittest.main()
