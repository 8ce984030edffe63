/* A complete plugin in plain C (compiled as C99, not C++): proves <sluice/plugin.h> is
 * pure C. Type "c-upper" (map): upper-cases ASCII letters, keeps keys and event time,
 * tags each output "upper". Type "c-counter" (sink): counts messages and responds to
 * each with its position ("1", "2", ...). Its library `unload` is used by the tests. */
#include <sluice/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sluice_host *g_host; /* kept from the entry call, as sqlite3ext does */

typedef struct upper_state {
  char *buffer;
  size_t capacity;
} upper_state;

static sluice_status upper_create(sluice_ctx *ctx, const sluice_create_args *args,
                                  void **out) {
  upper_state *s;
  if (strcmp(args->config_json, "{}") != 0) {
    static const char msg[] = "c-upper takes no config";
    g_host->set_error(ctx, msg, sizeof msg - 1);
    return SLUICE_ERROR_CONFIG;
  }
  s = (upper_state *)calloc(1, sizeof *s);
  if (s == NULL) return SLUICE_ERROR;
  *out = s;
  return SLUICE_OK;
}

static void upper_destroy(void *instance) {
  upper_state *s = (upper_state *)instance;
  free(s->buffer);
  free(s);
}

static sluice_status upper_process(void *instance, sluice_ctx *ctx, const sluice_batch *b) {
  upper_state *s = (upper_state *)instance;
  static const sluice_str tag = {"upper", 5};
  size_t i, j;
  for (i = 0; i < b->count; ++i) {
    const sluice_message *m = b->messages[i];
    sluice_output out;
    if (m->value.size > s->capacity) {
      char *grown = (char *)realloc(s->buffer, m->value.size);
      if (grown == NULL) return SLUICE_ERROR;
      s->buffer = grown;
      s->capacity = m->value.size;
    }
    for (j = 0; j < m->value.size; ++j) {
      char c = (char)m->value.data[j];
      s->buffer[j] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    memset(&out, 0, sizeof out);
    out.struct_size = sizeof out;
    out.value.data = (const uint8_t *)s->buffer;
    out.value.size = m->value.size;
    out.event_time = SLUICE_TIME_UNSET;
    out.tags = &tag;
    out.tag_count = 1;
    if (g_host->emit(ctx, i, &out) != SLUICE_OK) return SLUICE_ERROR;
  }
  return SLUICE_OK;
}

static sluice_status counter_create(sluice_ctx *ctx, const sluice_create_args *args,
                                    void **out) {
  (void)ctx; (void)args;
  *out = calloc(1, sizeof(unsigned long));
  return *out ? SLUICE_OK : SLUICE_ERROR;
}

static void counter_destroy(void *instance) { free(instance); }

static sluice_status counter_process(void *instance, sluice_ctx *ctx, const sluice_batch *b) {
  unsigned long *count = (unsigned long *)instance;
  char text[32];
  size_t i;
  for (i = 0; i < b->count; ++i) {
    sluice_bytes v;
    int n = snprintf(text, sizeof text, "%lu", ++*count);
    v.data = (const uint8_t *)text;
    v.size = (size_t)n;
    if (g_host->respond(ctx, i, v) != SLUICE_OK) return SLUICE_ERROR;
  }
  return SLUICE_OK;
}

/* Designated initializers: the fields a newer minor version adds at the end (check and
 * pending in 1.2) start as zero, meaning "not provided", with no warning. */
static const sluice_type kUpper = {
    .struct_size = sizeof(sluice_type),
    .kinds = SLUICE_KIND_MAP,
    .name = "c-upper",
    .version = "1.0.0",
    .description = "upper-cases ASCII letters (a plugin in plain C)",
    .create = upper_create,
    .destroy = upper_destroy,
    .process = upper_process,
};
static const sluice_type kCounter = {
    .struct_size = sizeof(sluice_type),
    .kinds = SLUICE_KIND_SINK,
    .name = "c-counter",
    .version = "1.0.0",
    .description = "responds to each message with its position (a plugin in plain C)",
    .create = counter_create,
    .destroy = counter_destroy,
    .process = counter_process,
};
/* Library teardown. For the tests: appends "c-example unloaded" to the file named by
 * SLUICE_TEST_UNLOAD_LOG, when set. */
static void unload(void) {
  const char *path = getenv("SLUICE_TEST_UNLOAD_LOG");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (f != NULL) {
    fputs("c-example unloaded\n", f);
    fclose(f);
  }
}

static const sluice_type *const kTypes[] = {&kUpper, &kCounter};
static const sluice_library kLibrary = {sizeof(sluice_library), SLUICE_ABI_VERSION_MAJOR,
                                        SLUICE_ABI_VERSION_MINOR, "c-example", kTypes, 2,
                                        unload};

SLUICE_EXPORT const sluice_library *SLUICE_PLUGIN_ENTRY(const sluice_host *host) {
  if (host->abi_major != SLUICE_ABI_VERSION_MAJOR) return NULL;
  g_host = host;
  return &kLibrary;
}
