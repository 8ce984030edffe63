// The entry symbol of libsluice-builtin.so: the built-in stage types.
#include "types.h"

SLUICE_PLUGIN("sluice-builtin", lib) {
  sluice::builtin::add_generator(lib);
  sluice::builtin::add_cat(lib);
  sluice::builtin::add_blackhole(lib);
  sluice::builtin::add_file(lib);
  sluice::builtin::add_stdin(lib);
  sluice::builtin::add_filter(lib);
  sluice::builtin::add_stdout(lib);
  sluice::builtin::add_log(lib);
  sluice::builtin::add_serve(lib);
  sluice::builtin::add_http(lib);
  sluice::builtin::add_count(lib);
  sluice::builtin::add_sum(lib);
  sluice::builtin::add_min_max(lib);
  sluice::builtin::add_collect(lib);
}
