/* A plugin "built against an older minor version": its sluice_type ends right after
 * `process` (as a 1.0 struct would if ack/finish had been added in 1.1). The truncated
 * struct is placed at the very end of a memory page whose next page is PROT_NONE, so
 * a host that reads one byte past struct_size crashes instead of passing. */
#define _DEFAULT_SOURCE /* mmap flags and sysconf under -std=c99 */
#include <sluice/plugin.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define OLD_TYPE_SIZE (offsetof(sluice_type, process) + sizeof(void *))

static sluice_status create(sluice_ctx *ctx, const sluice_create_args *args, void **out) {
  (void)ctx; (void)args;
  *out = NULL;
  return SLUICE_OK;
}
static void destroy(void *instance) { (void)instance; }
static sluice_status process(void *instance, sluice_ctx *ctx, const sluice_batch *b) {
  (void)instance; (void)ctx; (void)b;
  return SLUICE_OK;
}

static const sluice_type *g_types[1];
static sluice_library g_library;

SLUICE_EXPORT const sluice_library *SLUICE_PLUGIN_ENTRY(const sluice_host *host) {
  static unsigned char *pages;
  long page = sysconf(_SC_PAGESIZE);
  sluice_type full;
  (void)host;
  if (pages == NULL) {
    pages = (unsigned char *)mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) return NULL;
    memset(&full, 0, sizeof full);
    full.struct_size = (uint32_t)OLD_TYPE_SIZE;
    full.kinds = SLUICE_KIND_MAP;
    full.name = "old-minor";
    full.version = "1.0.0";
    full.description = "built against a smaller sluice_type";
    full.create = create;
    full.destroy = destroy;
    full.process = process;
    memcpy(pages + page - OLD_TYPE_SIZE, &full, OLD_TYPE_SIZE);
    if (mprotect(pages + page, (size_t)page, PROT_NONE) != 0) return NULL;
    g_types[0] = (const sluice_type *)(pages + page - OLD_TYPE_SIZE);
    g_library.struct_size = sizeof g_library;
    g_library.abi_major = SLUICE_ABI_VERSION_MAJOR;
    g_library.abi_minor = 0;
    g_library.name = "old-minor";
    g_library.types = g_types;
    g_library.type_count = 1;
  }
  return &g_library;
}
