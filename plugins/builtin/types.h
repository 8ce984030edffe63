// The stage classes of the built-in plugin library and their descriptions.
#pragma once

#include <sluice/plugin.hpp>

namespace sluice::builtin {

void add_generator(Library& lib);
void add_cat(Library& lib);
void add_blackhole(Library& lib);

}  // namespace sluice::builtin
