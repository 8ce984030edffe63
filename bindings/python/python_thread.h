// A stage instance's own Python thread state, made once on its worker thread and kept
// for the instance's life, so taking the GIL costs one PyEval_RestoreThread per batch
// (making a thread state per call, as a gil_scoped_acquire on a fresh thread does,
// cost ~7.5 us per message; see ../../../shared/toolchain.md pitfall 6).
//
// The state comes from PyGILState_Ensure and is held (counter >= 1) until the instance
// goes: pybind11's own gil_scoped_acquire (inside error_already_set, for one) finds it
// through PyGILState_GetThisThreadState and borrows it, and would delete it if it were
// a bare PyThreadState_New state whose counter fell back to zero.
//
// Instances are pinned (the type is not thread-safe), so the constructor, every Hold and
// the destructor run on the same thread.
#pragma once

#include "pybind.h"

namespace sluice::python {

class PythonThread {
 public:
  // Creates (or joins) this thread's state and returns with the GIL released.
  PythonThread() : gil_(PyGILState_Ensure()), state_(PyEval_SaveThread()) {}
  // Lets go of the state; deletes it when this was its last user.
  ~PythonThread() {
    PyEval_RestoreThread(state_);
    PyGILState_Release(gil_);
  }
  PythonThread(const PythonThread&) = delete;
  PythonThread& operator=(const PythonThread&) = delete;

  // Holds the GIL for a scope (a whole batch, a create, a destroy).
  class Hold {
   public:
    explicit Hold(PythonThread& t) : t_(t) { PyEval_RestoreThread(t_.state_); }
    ~Hold() { t_.state_ = PyEval_SaveThread(); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    PythonThread& t_;
  };

 private:
  PyGILState_STATE gil_;
  PyThreadState* state_;
};

}  // namespace sluice::python
