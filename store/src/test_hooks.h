// Fault injection for the store's own tests: not for any other use.
//
// Set only while no store is open (before opening, after closing): the writer thread
// reads these without synchronisation of its own.
#pragma once

#include <functional>

namespace sluice::store::test_hooks {

// Called by the writer thread before it applies each operation; a test makes it throw
// (e.g. std::bad_alloc) to check the writer survives what it cannot foresee.
extern std::function<void()> before_apply;

}  // namespace sluice::store::test_hooks
