// The stage classes of the built-in plugin library and their descriptions.
#pragma once

#include <sluice/plugin.hpp>

namespace sluice::builtin {

void add_generator(Library& lib);
void add_cat(Library& lib);
void add_blackhole(Library& lib);
void add_file(Library& lib);    // source and sink
void add_stdin(Library& lib);
void add_filter(Library& lib);
void add_stdout(Library& lib);
void add_log(Library& lib);
void add_serve(Library& lib);  // answers serving requests
void add_http(Library& lib);   // side input: an HTTP(S) GET
void add_count(Library& lib);  // reduce
void add_sum(Library& lib);      // reduce
void add_min_max(Library& lib);  // reduce: min and max
void add_collect(Library& lib);  // reduce

}  // namespace sluice::builtin
