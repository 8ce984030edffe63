// numaflow-python's server classes (MapServer, SinkServer, ...), so a handler file
// ported by changing only its imports still imports. In Sluice the flow names the
// handler and the host calls it in-process, so there is no server to start: start()
// says so instead of serving. The `if __name__ == "__main__":` block that builds the
// server never runs when Sluice imports the module.
#include "module.h"

namespace sluice::python {

void define_numaflow_servers(py::module_& m) {
  py::dict scope = m.attr("__dict__");
  py::exec(R"py(
class _NumaflowServer:
    """Stands in for a numaflow-python gRPC server class. Sluice calls handlers
    in-process: name the module and the handler in the flow's python stage instead,
    e.g. {map: python, config: {module: my_module, function: my_handler}}."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def start(self):
        raise RuntimeError(
            type(self).__name__ + ".start(): Sluice has no per-handler server; name this "
            "module and its handler in a flow file's python stage and run `sluice run "
            "flow.yaml` (see docs/python-guide.md, 'Porting from numaflow-python')")

_server_names = (
    "MapServer", "MapAsyncServer", "MapMultiprocServer", "MapStreamAsyncServer",
    "BatchMapAsyncServer", "SourceTransformServer", "SourceTransformAsyncServer",
    "SourceTransformMultiProcServer", "SinkServer", "SinkAsyncServer",
    "SourceAsyncServer", "ReduceAsyncServer", "ReduceStreamAsyncServer",
    "SessionReduceAsyncServer",
)
for _name in _server_names:
    globals()[_name] = type(_name, (_NumaflowServer,), {"__module__": "sluice"})
del _name
)py", scope);
}

}  // namespace sluice::python
