/* One deliberately broken plugin per BROKEN_* define (see CMakeLists.txt). Each is a
 * real shared library the loader must reject with a one-line error while the good
 * plugins beside it still load. Compiled as C. */
#include <sluice/plugin.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static sluice_status create(sluice_ctx *ctx, const sluice_create_args *args, void **out) {
  (void)ctx; (void)args;
  *out = NULL;
  return SLUICE_OK;
}
static void destroy(void *instance) { (void)instance; }
static sluice_status process(void *instance, sluice_ctx *ctx, const sluice_batch *batch) {
  (void)instance; (void)ctx; (void)batch;
  return SLUICE_OK;
}

static const sluice_type kType = {sizeof(sluice_type), SLUICE_KIND_MAP, 0,
#if defined(BROKEN_EMPTY_NAME)
                                  "",
#elif defined(BROKEN_TWIN_A) || defined(BROKEN_TWIN_B)
                                  "twin",
#else
                                  "broken-type",
#endif
                                  "1.0", "a type in a broken library", NULL,
                                  create, destroy, process, NULL, NULL, NULL, NULL, NULL};

static const sluice_type kNoKinds = {sizeof(sluice_type), 0, 0, "kindless", "1.0", "",
                                     NULL, create, destroy, process, NULL, NULL, NULL, NULL, NULL};

#if defined(BROKEN_DUPLICATE_NAME)
static const sluice_type *const kTypes[] = {&kType, &kType};
#elif defined(BROKEN_NO_KINDS)
static const sluice_type *const kTypes[] = {&kNoKinds};
#else
static const sluice_type *const kTypes[] = {&kType};
#endif

/* Appends "broken unloaded" to $SLUICE_TEST_UNLOAD_LOG: a descriptor the host rejects
 * after the entry ran still gets its unload. */
static void unload(void) {
  const char *path = getenv("SLUICE_TEST_UNLOAD_LOG");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (f != NULL) {
    fputs("broken unloaded\n", f);
    fclose(f);
  }
}

static sluice_library kLibrary = {sizeof(sluice_library), SLUICE_ABI_VERSION_MAJOR,
                                  SLUICE_ABI_VERSION_MINOR, "broken", kTypes,
                                  sizeof(kTypes) / sizeof(kTypes[0]), unload};

#if defined(BROKEN_NO_ENTRY)
/* A perfectly good shared library that simply is not a Sluice plugin. */
SLUICE_EXPORT int not_a_plugin(void) { return (int)kLibrary.type_count + (kNoKinds.kinds != 0); }
#elif defined(BROKEN_ABI_NEWER)
SLUICE_EXPORT const sluice_library *sluice_plugin_v2(const sluice_host *host) {
  (void)host; (void)kNoKinds; (void)kType;
  return &kLibrary;
}
#elif defined(BROKEN_ABI_OLDER)
SLUICE_EXPORT const sluice_library *sluice_plugin_v0(const sluice_host *host) {
  (void)host; (void)kNoKinds; (void)kType;
  return &kLibrary;
}
#else
#if defined(BROKEN_MISSING_DEPENDENCY)
int vanishing_function(void); /* defined in libvanishing.so, absent at run time */
#endif
SLUICE_EXPORT const sluice_library *SLUICE_PLUGIN_ENTRY(const sluice_host *host) {
  (void)host; (void)kNoKinds; (void)kType;
#if defined(BROKEN_NULL_DESCRIPTOR)
  {
    static const char why[] = "this plugin needs plugin ABI 1.9 or newer";
    host->log(NULL, SLUICE_LOG_ERROR, why, sizeof why - 1);
  }
  return NULL;
#elif defined(BROKEN_ZERO_STRUCT_SIZE)
  kLibrary.struct_size = 0;
#elif defined(BROKEN_DESCRIPTOR_MAJOR)
  kLibrary.abi_major = 2;
#elif defined(BROKEN_MISSING_DEPENDENCY)
  if (vanishing_function() != 42) return NULL;
#endif
  return &kLibrary;
}
#endif
