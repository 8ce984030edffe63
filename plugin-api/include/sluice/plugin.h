/*
 * sluice/plugin.h -- the Sluice plugin ABI, version 1.
 *
 * This is the one contract between the Sluice host and every stage plugin: sources,
 * maps, reduces, sinks and side-input retrievers, written in C, C++ or anything that
 * can export a C function. It is pure C99; no C++ type, exception or allocation
 * crosses it.
 *
 * THE SHAPE
 *   A plugin is a shared library exporting exactly one symbol, SLUICE_PLUGIN_ENTRY
 *   (`sluice_plugin_v1`). The host calls it once after loading the library, passing its
 *   own service table (`sluice_host`). The plugin returns a `sluice_library` describing
 *   one or more stage types (`sluice_type`), each with a small function table:
 *   create / destroy / process, and optional ack / finish.
 *
 * VERSIONING (read this before changing anything here)
 *   - The major version is in the entry symbol's name. A breaking change gets a new
 *     symbol (`sluice_plugin_v2`); a host refuses a library it cannot run and names the
 *     file and both versions.
 *   - Within a major version, structs that carry `struct_size` only ever grow at the
 *     end (a minor version). Each side reads a field only when the other side's
 *     `struct_size` covers it; a field beyond it means "absent" (NULL / 0 / default).
 *   - Because those structs grow, the ABI never passes an array of them by value: an
 *     array indexed with the wrong element size would be garbage. Such arrays are
 *     arrays of pointers (`const sluice_message *const *`).
 *   - Small structs without `struct_size` (`sluice_str`, `sluice_bytes`, `sluice_header`)
 *     are frozen for the whole major version.
 *
 * OWNERSHIP
 *   Nothing allocated on one side is freed on the other. Everything the host passes in
 *   (messages, strings, config) is owned by the host and valid only for the duration of
 *   the call that received it; copy what you need to keep. Everything the plugin hands
 *   to a host callback (emit, respond, set_error, log) is copied by the host before the
 *   callback returns. The descriptor a plugin returns from the entry symbol, and every
 *   string it points to, must stay valid and unchanged until the library is unloaded.
 *
 * THREADS
 *   - The entry symbol and the library's `unload` are called once each, on one thread,
 *     never concurrently with any other call into the library. The entry must not start
 *     threads (start them in create, stop them in destroy).
 *   - An instance of a type without SLUICE_TYPE_THREAD_SAFE is pinned: its create, every
 *     call on it and its destroy happen on one host thread (so thread_local state and
 *     per-thread interpreter state work).
 *   - An instance of a SLUICE_TYPE_THREAD_SAFE type may have `process` and `ack` called
 *     from several threads at once. Its create, finish and destroy are never concurrent
 *     with any other call on it, and finish comes after every process and ack returned.
 *   - Different instances, of the same type or not, are called concurrently, create and
 *     destroy included: state shared between instances (globals) needs locking.
 *   - A `sluice_ctx` is valid only on the thread and during the call that received it.
 *
 * UNLOADING
 *   The host unloads a library only after every instance of every type in it has been
 *   destroyed and no host thread, queue or message can reach its code or its data.
 *   Plugins must not leave their own threads running after `destroy`.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The layout is the platform's natural one, whatever packing the includer has set. */
#pragma pack(push, 8)

/* ------------------------------------------------------------------------------------
 * Versions and the entry symbol
 * ---------------------------------------------------------------------------------- */

#define SLUICE_ABI_VERSION_MAJOR 1
#define SLUICE_ABI_VERSION_MINOR 4

/* The name of the one exported symbol, as a token and as a string. */
#define SLUICE_PLUGIN_ENTRY sluice_plugin_v1
#define SLUICE_PLUGIN_ENTRY_NAME "sluice_plugin_v1"

/* Marks the entry symbol as exported when the plugin is built with hidden visibility
 * (-fvisibility=hidden, which the CMake package sets). */
#if defined(_WIN32)
#define SLUICE_EXPORT __declspec(dllexport)
#else
#define SLUICE_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------------------
 * Frozen value types
 * ---------------------------------------------------------------------------------- */

/* A string view: `size` bytes at `data`, not necessarily NUL-terminated, UTF-8 by
 * convention. `data` may be NULL only when `size` is 0. */
typedef struct sluice_str {
  const char *data;
  size_t size;
} sluice_str;

/* A byte view: `size` bytes at `data`. `data` may be NULL only when `size` is 0. */
typedef struct sluice_bytes {
  const uint8_t *data;
  size_t size;
} sluice_bytes;

/* One message header. */
typedef struct sluice_header {
  sluice_str key;
  sluice_str value;
} sluice_header;

/* Times are milliseconds since the Unix epoch (UTC). SLUICE_TIME_UNSET means "no time"
 * on an input (the source did not set one). On an output, 0 and SLUICE_TIME_UNSET both
 * mean "inherit from the input", so a zero-initialised output inherits (the epoch
 * instant itself is not representable on outputs; use 1). */
#define SLUICE_TIME_UNSET INT64_MIN

/* The reserved tag that drops a message: an output carrying it goes to no edge and
 * completes its lineage. The same string as Numaflow's drop tag, so handlers ported
 * from it keep working. */
#define SLUICE_TAG_DROP "U+005C__DROP__"

/* ------------------------------------------------------------------------------------
 * Status codes, kinds, flags
 * ---------------------------------------------------------------------------------- */

/* These are fixed-width integers with #defined values, not C enums: an enum's size is
 * the compiler's choice (-fshort-enums makes it one byte), and a value outside an enum
 * is undefined behaviour in C++. */

/* What a plugin function returns. */
typedef int32_t sluice_status;
#define SLUICE_OK 0           /* done; for a source: it may have more data */
#define SLUICE_IDLE 1         /* source only: nothing available now; call again later */
#define SLUICE_END 2          /* source only: no more data, ever (ends a job) */
#define SLUICE_ERROR (-1)     /* this call failed; the stage's error policy decides (retry,
                                 fallback, drop, fail). Call set_error first to say why. */
#define SLUICE_ERROR_CONFIG (-2) /* create only: the config is invalid; the flow does not
                                    start. Call set_error first to say which key and why. */
#define SLUICE_ERROR_FATAL (-3)  /* the instance cannot go on; the flow fails */

/* Stage kinds. A type declares the set it supports as a bit mask; each instance is
 * created for exactly one of them (sluice_create_args.kind). */
typedef uint32_t sluice_kind;
#define SLUICE_KIND_SOURCE (1u << 0)
#define SLUICE_KIND_MAP (1u << 1)
#define SLUICE_KIND_REDUCE (1u << 2)
#define SLUICE_KIND_SINK (1u << 3)
#define SLUICE_KIND_SIDE_INPUT (1u << 4) /* a side-input retriever */
#define SLUICE_KIND_ALL 0x1Fu

/* sluice_type.flags. A host ignores flag bits it does not know (a newer minor may add
 * some); kinds bits it does not know make it reject the type. */
#define SLUICE_TYPE_THREAD_SAFE (1u << 0) /* one instance may serve several threads */

/* A sink's verdict on one input message (see sluice_host.set_outcome). */
typedef uint32_t sluice_outcome;
#define SLUICE_OUTCOME_OK 0u      /* written; the default when a sink sets nothing */
#define SLUICE_OUTCOME_RETRY 1u   /* transient failure: redeliver this message later */
#define SLUICE_OUTCOME_FAILED 2u  /* permanent failure: route to the fallback sink */

typedef uint32_t sluice_log_level;
#define SLUICE_LOG_DEBUG 0u
#define SLUICE_LOG_INFO 1u
#define SLUICE_LOG_WARN 2u
#define SLUICE_LOG_ERROR 3u

/* ------------------------------------------------------------------------------------
 * Messages and batches (host -> plugin; owned by the host; valid for the call)
 * ---------------------------------------------------------------------------------- */

/* One input message. Grows at the end in minor versions (read only what struct_size
 * covers; the host always fills everything it knows). */
typedef struct sluice_message {
  uint32_t struct_size;
  sluice_str id;               /* the id of the source message (or request) this message
                                  derives from: the source's own id (sluice_output.id) or
                                  one the host made up; every message derived from the
                                  same source message carries the same id */
  const sluice_str *keys;      /* key_count keys; may be empty */
  size_t key_count;
  sluice_bytes value;
  int64_t event_time;          /* ms since epoch, or SLUICE_TIME_UNSET */
  int64_t watermark;           /* ms since epoch, or SLUICE_TIME_UNSET */
  const sluice_header *headers;
  size_t header_count;
  const sluice_str *tags;      /* the tags the previous stage gave this message */
  size_t tag_count;
} sluice_message;

/* sluice_batch.flags */
#define SLUICE_BATCH_WINDOW_CLOSE (1u << 0) /* reduce: the window closes after this batch */
#define SLUICE_BATCH_WINDOW_MERGE (1u << 1) /* reduce (1.4): a session window is merged in */
#define SLUICE_BATCH_WINDOW_DISCARD (1u << 2) /* reduce (1.4): the window is abandoned */

/* The argument of every `process` call. What it holds depends on the instance's kind:
 *   map:         messages[0..count) to transform; emit outputs naming their input index.
 *   sink:        messages[0..count) to write; set an outcome per message (default OK)
 *                or respond with a result for the message's request.
 *   source:      count == 0; emit up to max_messages new messages (input index
 *                SLUICE_NO_INPUT) and return within about budget_us microseconds,
 *                returning SLUICE_OK, SLUICE_IDLE or SLUICE_END.
 *   reduce:      the calls of one window of one key (see "The reduce contract" below).
 *   side input:  count == 0; emit one output with the new value, or emit nothing for
 *                "no change".
 */
typedef struct sluice_batch {
  uint32_t struct_size;
  uint32_t flags;
  const sluice_message *const *messages; /* count pointers; never NULL when count > 0 */
  size_t count;
  int64_t watermark;     /* the stage's input watermark, ms, or SLUICE_TIME_UNSET */
  size_t max_messages;   /* source: emit at most this many */
  int64_t budget_us;     /* source: return within about this long */
  int64_t window_start;  /* reduce: ms since epoch, inclusive */
  int64_t window_end;    /* reduce: ms since epoch, exclusive */
  /* --- since 1.4, reduce only (check struct_size before reading) ------------------- */
  void **window_state;   /* the window's state slot (see below); never NULL for reduce */
  void *merged_state;    /* WINDOW_MERGE: the state of the window merged into this one */
  int64_t merged_start;  /* WINDOW_MERGE: the bounds the merged window had */
  int64_t merged_end;
  const sluice_str *window_keys; /* the window's keys (empty for an unkeyed reduce) */
  size_t window_key_count;
} sluice_batch;

/* The reduce contract (ABI 1.4). The host owns all window bookkeeping: it assigns each
 * message to its windows (fixed, sliding or session, by event time and per key), tracks
 * the watermark and decides when a window closes. A reducer only keeps its own state
 * per window, in the slot the host keeps for it. For one window of one key, the host
 * makes these calls, on one thread, in this order:
 *
 *   appends   count >= 1, flags 0: messages of this window (all with the window's keys),
 *             in arrival order. A message in several (sliding) windows comes once per
 *             window. A streaming reducer may emit here; most only update their state.
 *   merge     (session windows) count == 0, flags WINDOW_MERGE: the window
 *             [merged_start, merged_end) of the same key is merged into this one, whose
 *             bounds are now [window_start, window_end). Fold *merged_state into
 *             *window_state and free merged_state; no call for the merged window follows.
 *             Either state may still be NULL: the host merges as soon as a message
 *             bridges two sessions, before it delivers that batch's appends (which then
 *             go to the merged window).
 *   close     count == 0, flags WINDOW_CLOSE: the window is complete (the watermark
 *             passed its end plus the allowed lateness, or the job's input ended). Emit
 *             the result(s) and free the state. Outputs take the window's keys and the
 *             event time window_end - 1 unless they set their own.
 *   discard   count == 0, flags WINDOW_DISCARD: the flow stops without closing the
 *             window (a streaming flow's stop). Free the state; emitting is refused.
 *
 * *window_state is NULL when the window opens; whatever the reducer stores there it owns
 * and gets back, unchanged, with every later call for the window. After close or discard
 * the slot is forgotten. Emitted outputs belong to the window, whatever input index is
 * named (SLUICE_NO_INPUT is fine). An error status from any of these calls fails the flow
 * (a window's state cannot be replayed). window_keys stay valid for the call only. */

/* Input index for outputs of a source or side-input retriever (no parent message). */
#define SLUICE_NO_INPUT ((size_t)-1)

/* ------------------------------------------------------------------------------------
 * Outputs (plugin -> host; owned by the plugin; the host copies them)
 * ---------------------------------------------------------------------------------- */

/* One output message. Zero-initialise it, set struct_size = sizeof(sluice_output) and
 * fill in what you need: every field's zero value is its default, which is also what a
 * newer host reads for fields beyond an older plugin's struct_size. Defaults inherit
 * from the input message named in emit():
 *   key_count == 0      -> the input's keys; flag SLUICE_OUTPUT_NO_KEYS: no keys at all
 *   event_time == 0     -> the input's event time (for a source: the read time);
 *                          SLUICE_TIME_UNSET means the same
 *   headers             -> added to the input's headers, replacing equal keys; flag
 *                          SLUICE_OUTPUT_NO_INHERITED_HEADERS: only these headers
 *   tags                -> route the output (edge conditions); SLUICE_TAG_DROP drops it.
 *                          Tags are never inherited: an output has the tags given here.
 *   id                  -> source only: the source's own id for the message (an offset,
 *                          a file position); ack() hands it back. Empty: the host makes
 *                          one up, and the source cannot tell its acks apart.
 */
typedef struct sluice_output {
  uint32_t struct_size;
  const sluice_str *keys;
  size_t key_count;
  sluice_bytes value;
  int64_t event_time;
  const sluice_header *headers;
  size_t header_count;
  const sluice_str *tags;
  size_t tag_count;
  sluice_str id;
  uint32_t flags;              /* SLUICE_OUTPUT_* */
} sluice_output;

/* sluice_output.flags */
#define SLUICE_OUTPUT_NO_KEYS (1u << 0)            /* no keys, not the input's */
#define SLUICE_OUTPUT_NO_INHERITED_HEADERS (1u << 1) /* only the headers given here */

/* Every pointer with a count (keys, headers, tags) may be NULL only when its count is 0;
 * every sluice_str / sluice_bytes data may be NULL only when its size is 0. The host
 * refuses an emit that breaks this. */

/* ------------------------------------------------------------------------------------
 * The host's service table (host -> plugin at load time)
 * ---------------------------------------------------------------------------------- */

/* The calling context of one plugin call: opaque, owned by the host, valid only during
 * that call and only on the thread that made it. */
typedef struct sluice_ctx sluice_ctx;

/* Services the host offers. The table and its strings are static in the host and stay
 * valid for as long as the library is loaded: a plugin may keep the pointer it received
 * in the entry call (as SQLite extensions do) and use it from any of its functions.
 * Read a member only when struct_size covers it (newer hosts add members at the end).
 *
 * Every callback that takes a ctx must be called from inside the plugin call that
 * received that ctx, on its thread. Return values: SLUICE_OK, or SLUICE_ERROR when the
 * call was refused (wrong kind, index out of range, missing struct_size); a refused
 * call changes nothing and logs why. */
typedef struct sluice_host {
  uint32_t struct_size;
  uint32_t abi_major;        /* SLUICE_ABI_VERSION_MAJOR the host was built with */
  uint32_t abi_minor;        /* SLUICE_ABI_VERSION_MINOR the host was built with */
  const char *host_version;  /* e.g. "0.1.0", NUL-terminated */

  /* Emit one output derived from batch->messages[input_index]. SLUICE_NO_INPUT is for
   * outputs with no one parent: from a source, a retriever, a reduce (its outputs
   * belong to the window, whichever index is named) and any kind's finish. The host
   * copies `out` and everything it points to before returning. Allowed from source, map,
   * reduce and side-input calls.
   *
   * An input a map emits nothing for is finished there (filtered out). When the call
   * then returns an error status, the host discards everything it emitted: the error
   * policy retries or routes the whole batch, so outputs are never duplicated. */
  sluice_status (*emit)(sluice_ctx *ctx, size_t input_index, const sluice_output *out);

  /* Sink only: `value` is a result for the request that message
   * batch->messages[input_index] belongs to (the "serve" outcome). May be called more
   * than once per message; the results are kept in order. Copied before returning.
   * input_index must name a message of the current batch (never SLUICE_NO_INPUT). */
  sluice_status (*respond)(sluice_ctx *ctx, size_t input_index, sluice_bytes value);

  /* Sink: the outcome of one message (default SLUICE_OUTCOME_OK). Map: mark one message
   * failed (outcome SLUICE_OUTCOME_FAILED) while the rest of the batch succeeds; its
   * outputs are discarded and the error policy applies to it alone. `reason` may be
   * NULL; it is copied. input_index must name a message of the current batch. */
  sluice_status (*set_outcome)(sluice_ctx *ctx, size_t input_index, sluice_outcome outcome,
                               const char *reason, size_t reason_size);

  /* Say why the current call is about to return an error status. The message is copied;
   * the last call wins. Allowed from every call that has a ctx, create included. */
  void (*set_error)(sluice_ctx *ctx, const char *message, size_t message_size);

  /* Write a line to the host's log (stderr), tagged with the stage when ctx is given.
   * The only callback that may be used from any thread at any time, with ctx NULL
   * outside a plugin call (for example from the entry function or a plugin's own
   * thread). Copied before returning. */
  void (*log)(sluice_ctx *ctx, sluice_log_level level, const char *message,
              size_t message_size);

  /* --- since 1.3 (read only when struct_size covers it) -------------------------- */

  /* The current value of the side input `name` (name_size bytes, not NUL-terminated),
   * one the stage lists in its `sideInputs:`. On SLUICE_OK *value views bytes owned by
   * the host: valid until the current call returns and never changed while valid (a
   * newer version is seen from the next call on). *version, when version is not NULL,
   * receives the value's version (1, 2, ... for each new value). Takes no lock and
   * allocates nothing: call it per message if you like. Refused (SLUICE_ERROR) for a
   * name the stage does not list. A stage starts only once each of its side inputs has
   * a value, so a listed one always has one. Allowed from every call with a ctx of a
   * stage worker (process, ack, finish, side_input_changed), not from create or check.
   * Thread-safety: like every ctx callback, on the call's own thread. */
  sluice_status (*side_input)(sluice_ctx *ctx, const char *name, size_t name_size,
                              sluice_bytes *value, uint64_t *version);
} sluice_host;

/* ------------------------------------------------------------------------------------
 * What the plugin describes (plugin -> host; owned by the plugin; static)
 * ---------------------------------------------------------------------------------- */

/* The arguments of `create`. Owned by the host, valid only during the call. */
typedef struct sluice_create_args {
  uint32_t struct_size;
  sluice_kind kind;          /* the role this instance plays; one of the type's kinds */
  const char *type_name;     /* NUL-terminated */
  const char *stage_name;    /* the stage's name in the flow, NUL-terminated */
  const char *config_json;   /* the stage's `config` as JSON text; "{}" when absent */
  const char *flow_dir;      /* directory of the flow file, for relative paths; "" if none */
  uint32_t worker_index;     /* 0 .. worker_count-1 */
  uint32_t worker_count;     /* the stage's `threads` (1 for a thread-safe type) */
  /* --- since 1.1 (read only when struct_size covers it; absent means JOB) --------- */
  uint32_t flow_mode;        /* SLUICE_FLOW_JOB or SLUICE_FLOW_STREAMING: lets a source
                                choose between ending at the end of its input (a file
                                at EOF) and waiting for more (following the file) */
} sluice_create_args;

/* sluice_create_args.flow_mode */
#define SLUICE_FLOW_JOB 0u       /* sources end; the flow drains and the process exits */
#define SLUICE_FLOW_STREAMING 1u /* runs until stopped by a signal */

/* One stage type. Grows at the end in minor versions. The host requires every field up
 * to and including `process`; later fields are optional (NULL means "not provided"),
 * and so is every field beyond the plugin's struct_size. */
typedef struct sluice_type {
  uint32_t struct_size;      /* sizeof(sluice_type) as the plugin was compiled */
  uint32_t kinds;            /* a non-zero mask of sluice_kind */
  uint32_t flags;            /* SLUICE_TYPE_* */
  const char *name;          /* the type name flows use; unique among loaded plugins;
                                letters, digits, '-', '_' and '.' */
  const char *version;       /* the type's own version, e.g. "1.2.0"; may be NULL */
  const char *description;   /* one line; may be NULL */
  const char *config_schema; /* a JSON Schema (draft 2020-12 subset) of `config`, as
                                JSON text, or NULL. Shown by `sluice plugins --json`;
                                the flow engine checks configs against it before create.
                                create must still check its config (`sluice try` and
                                other callers pass it unchecked). */

  /* Create an instance for one worker of one stage. On success store it in *instance
   * (any pointer, NULL allowed) and return SLUICE_OK. On failure call set_error and
   * return SLUICE_ERROR_CONFIG (bad config), SLUICE_ERROR or SLUICE_ERROR_FATAL;
   * *instance is ignored. Any other status is a failure too, and an instance stored
   * with it is destroyed. No outputs may be emitted from create. */
  sluice_status (*create)(sluice_ctx *ctx, const sluice_create_args *args, void **instance);

  /* Release an instance. Called exactly once per successful create, after its last
   * call returned (see THREADS for which thread). Must not fail; may use host->log
   * (ctx NULL) but no other callback. */
  void (*destroy)(void *instance);

  /* Do the instance's work on one batch (see sluice_batch). Returns SLUICE_OK (a source
   * also SLUICE_IDLE or SLUICE_END), SLUICE_ERROR or SLUICE_ERROR_FATAL; any other value
   * is treated as SLUICE_ERROR. */
  sluice_status (*process)(void *instance, sluice_ctx *ctx, const sluice_batch *batch);

  /* --- optional from here on --------------------------------------------------- */

  /* Source only: every message in batch->messages has finished (all its descendants
   * were sunk, dropped or failed), so the source may commit them. The messages carry
   * only their id (the one the source gave in sluice_output.id); other fields are
   * empty. Each message is
   * acknowledged exactly once; order is not guaranteed. Called between process calls
   * of the same instance (never concurrently with them unless THREAD_SAFE), also after
   * process returned SLUICE_END, for messages still in flight then. No outputs. */
  sluice_status (*ack)(void *instance, sluice_ctx *ctx, const sluice_batch *batch);

  /* End of input: called once before destroy when the stage drains (job end, shutdown).
   * Outputs may still be emitted with input index SLUICE_NO_INPUT (a map that buffers);
   * they start a lineage of their own. A sink flushes here. An error status fails the
   * stage like a failed process. */
  sluice_status (*finish)(void *instance, sluice_ctx *ctx);

  /* --- since 1.2 (optional; zero when beyond the plugin's struct_size) ------------ */

  /* Check a stage's config more deeply than its JSON Schema can, without creating an
   * instance: only reading (files, folders, code) and no lasting effect (nothing
   * written, started or connected). A Python type imports the handler's module (which
   * runs the module's top level, as any import does) and checks the handler's
   * signature; a file sink could check that its folder exists. `sluice check` calls it once per stage, on the main thread, with
   * the arguments create would get for worker 0; `sluice run` does not (create checks
   * again). Return SLUICE_OK, or call set_error and return SLUICE_ERROR_CONFIG. Start
   * the message with "config.<key>: " to have the host point at that key's line. No
   * outputs, no other callback but log. */
  sluice_status (*check)(sluice_ctx *ctx, const sluice_create_args *args);

  /* Source only: how many messages the instance has yet to read (its backlog: a
   * queue's depth, a file's unread lines), or a negative number when it does not know.
   * The host calls it on the instance's own thread between process calls (any thread
   * for a THREAD_SAFE type), at most about once a second, and shows the sum over a
   * stage's workers as the sluice_source_pending_messages gauge in /metrics (each
   * worker's last known value; it stays after the source ends). Must be quick; no
   * callback but log. */
  int64_t (*pending)(void *instance);

  /* --- since 1.3 (optional; zero when beyond the plugin's struct_size) ------------ */

  /* A side input the stage lists has a new value: `name` (name_size bytes) is now at
   * `version`, readable through host->side_input. Called on the instance's own thread,
   * between process calls, before the first process call that sees the new value; also
   * once per side input before the first process call (the initial values). When
   * several versions arrive between two calls, only the newest is announced. For a
   * THREAD_SAFE type it is called by every worker, each for its own view. No outputs;
   * an error status is logged and otherwise ignored (the stage goes on with the new
   * value). */
  sluice_status (*side_input_changed)(void *instance, sluice_ctx *ctx, const char *name,
                                      size_t name_size, uint64_t version);
} sluice_type;

/* What the entry symbol returns. Grows at the end in minor versions. */
typedef struct sluice_library {
  uint32_t struct_size;      /* sizeof(sluice_library) as the plugin was compiled */
  uint32_t abi_major;        /* SLUICE_ABI_VERSION_MAJOR the plugin was compiled with */
  uint32_t abi_minor;        /* SLUICE_ABI_VERSION_MINOR the plugin was compiled with */
  const char *name;          /* the library's name, e.g. "sluice-builtin"; may be NULL */
  const sluice_type *const *types; /* type_count pointers to types */
  size_t type_count;
  /* Optional (NULL: nothing to do). Called once before the library is unloaded, after
   * the last destroy of any instance of its types, also when the host rejects the
   * descriptor after the entry returned it (unless the descriptor claims another major
   * version, whose layout the host cannot read); then no other call follows. Stop here what
   * the entry function started (an interpreter, a global pool). Must not fail. */
  void (*unload)(void);
} sluice_library;

/* The entry symbol every plugin exports (and, built with sluice_add_plugin(), the only
 * symbol it exports):
 *
 *   SLUICE_EXPORT const sluice_library *sluice_plugin_v1(const sluice_host *host);
 *
 * Called once per load, before anything else, on one thread. `host` stays valid until
 * the library is unloaded. Return the library descriptor, or NULL when the plugin cannot
 * run with this host (for example it needs a newer minor version); log why first with
 * host->log(NULL, ...). Must not throw. */
typedef const sluice_library *(*sluice_plugin_entry_fn)(const sluice_host *host);

#pragma pack(pop)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SLUICE_PLUGIN_H */
