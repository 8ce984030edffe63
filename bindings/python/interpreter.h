// The embedded interpreter's lifetime: started by the library's entry function and
// stopped by its unload hook, both on the host's main thread (an interpreter started on
// a worker thread hung at exit, see ../../../shared/toolchain.md pitfall 5).
//
// Between the two, no thread holds the GIL by default: each stage instance takes it
// with its own thread state (python_thread.h).
#pragma once

#include <string>

namespace sluice::python {

// Starts the interpreter, or counts one more user when it runs already (the host may
// load the same library file twice, and then calls the entry twice). Returns "" on
// success, else why it could not start (nothing to undo then).
std::string start_interpreter();

// Undoes one start_interpreter(); the last one finalizes the interpreter. Every stage
// instance (and every Python object the plugin holds) must be gone by then.
void stop_interpreter();

}  // namespace sluice::python
