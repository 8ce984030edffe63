/* The map of the side-input read benchmark (side_input_bench.cc), in plain C through
 * <sluice/plugin.h> as a C plugin author writes it, built as its own .so so it goes
 * through the real loader.
 *
 *   bench-si-check (map): keeps a message when its entry in a table is '1'. The entry
 *   is picked by a hash of the message's first 24 bytes (the generator's zero-padded
 *   sequence number), modulo the table's size. Where the table comes from is the only
 *   thing the two configs change:
 *     {"side_input": "<name>"}  host->side_input(...) for every message: the read the
 *                               benchmark measures;
 *     {"table": "0101..."}      the same bytes, given in the config and kept by the
 *                               instance: the baseline.
 *   Both do the same hash, lookup and emit, so the difference is the read's cost. */
#include <sluice/plugin.h>

#include <stdlib.h>
#include <string.h>

static const sluice_host *g_host; /* kept from the entry call */

typedef struct check_state {
  char *side_input; /* the side input's name, or NULL */
  size_t side_input_size;
  char *table; /* the config's table, or NULL */
  size_t table_size;
} check_state;

/* The string value of "key" in the config's JSON object. The benchmark's values hold no
 * quotes or escapes, so the text between the quotes is the value. */
static int string_field(const char *json, const char *key, const char **start, size_t *size) {
  size_t key_size = strlen(key);
  const char *p = json;
  while ((p = strchr(p, '"')) != NULL) {
    if (strncmp(p + 1, key, key_size) == 0 && p[1 + key_size] == '"') {
      const char *end;
      p += key_size + 2;
      while (*p == ' ' || *p == ':') ++p;
      if (*p != '"') return 0;
      end = strchr(p + 1, '"');
      if (end == NULL) return 0;
      *start = p + 1;
      *size = (size_t)(end - p - 1);
      return 1;
    }
    ++p;
  }
  return 0;
}

static char *copy_of(const char *s, size_t n) {
  char *c = (char *)malloc(n + 1);
  if (c != NULL) {
    memcpy(c, s, n);
    c[n] = '\0';
  }
  return c;
}

static sluice_status fail(sluice_ctx *ctx, const char *message, sluice_status status) {
  g_host->set_error(ctx, message, strlen(message));
  return status;
}

static sluice_status check_create(sluice_ctx *ctx, const sluice_create_args *args, void **out) {
  check_state *s;
  const char *text;
  size_t size;
  s = (check_state *)calloc(1, sizeof *s);
  if (s == NULL) return SLUICE_ERROR;
  if (string_field(args->config_json, "side_input", &text, &size) && size > 0) {
    s->side_input = copy_of(text, size);
    s->side_input_size = size;
  } else if (string_field(args->config_json, "table", &text, &size) && size > 0) {
    s->table = copy_of(text, size);
    s->table_size = size;
  } else {
    free(s);
    return fail(ctx, "bench-si-check needs config side_input or table", SLUICE_ERROR_CONFIG);
  }
  if (s->side_input == NULL && s->table == NULL) {
    free(s);
    return SLUICE_ERROR;
  }
  *out = s;
  return SLUICE_OK;
}

static void check_destroy(void *instance) {
  check_state *s = (check_state *)instance;
  free(s->side_input);
  free(s->table);
  free(s);
}

/* FNV-1a over at most the first 24 bytes. */
static size_t hash_of(const uint8_t *data, size_t size) {
  uint64_t h = 14695981039346656037ull;
  size_t i, n = size < 24 ? size : 24;
  for (i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return (size_t)h;
}

static sluice_status check_process(void *instance, sluice_ctx *ctx, const sluice_batch *b) {
  const check_state *s = (const check_state *)instance;
  size_t i;
  for (i = 0; i < b->count; ++i) {
    const sluice_message *m = b->messages[i];
    const uint8_t *table = (const uint8_t *)s->table;
    size_t table_size = s->table_size;
    sluice_output out;
    if (s->side_input != NULL) {
      sluice_bytes v;
      if (g_host->side_input(ctx, s->side_input, s->side_input_size, &v, NULL) != SLUICE_OK)
        return SLUICE_ERROR; /* the host logged why */
      table = v.data;
      table_size = v.size;
    }
    if (table_size == 0 || table[hash_of(m->value.data, m->value.size) % table_size] != '1')
      continue; /* not in the table: dropped */
    memset(&out, 0, sizeof out);
    out.struct_size = sizeof out;
    out.value = m->value;
    out.event_time = SLUICE_TIME_UNSET;
    if (g_host->emit(ctx, i, &out) != SLUICE_OK) return SLUICE_ERROR;
  }
  return SLUICE_OK;
}

static const sluice_type kCheck = {
    .struct_size = sizeof(sluice_type),
    .kinds = SLUICE_KIND_MAP,
    .name = "bench-si-check",
    .version = "1.0.0",
    .description = "keeps messages whose table entry is '1'; the table is a side input or config",
    .create = check_create,
    .destroy = check_destroy,
    .process = check_process,
};

static const sluice_type *const kTypes[] = {&kCheck};
static const sluice_library kLibrary = {sizeof(sluice_library), SLUICE_ABI_VERSION_MAJOR,
                                        SLUICE_ABI_VERSION_MINOR, "sluice-bench-si", kTypes, 1,
                                        NULL};

SLUICE_EXPORT const sluice_library *SLUICE_PLUGIN_ENTRY(const sluice_host *host) {
  /* host->side_input is ABI 1.3; an older host cannot run this benchmark. */
  if (host->abi_major != SLUICE_ABI_VERSION_MAJOR ||
      host->struct_size < offsetof(sluice_host, side_input) + sizeof host->side_input)
    return NULL;
  g_host = host;
  return &kLibrary;
}
