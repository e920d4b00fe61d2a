/*
 * The two descriptor controls the engine needs and Node has no API for (main/engine/io/cache.ts says when each
 * is used), and the block hash it needs fast (main/engine/io/hash-pool.ts). Plain C against Node-API, so one
 * build runs in Node and in Electron alike; each call runs on libuv's thread pool (a full sync can take a second)
 * and returns a promise.
 *
 *   nocache(fd)  macOS: fcntl(F_NOCACHE, 1), this descriptor's reads and writes bypass the unified buffer cache.
 *                Linux: posix_fadvise(POSIX_FADV_DONTNEED), the clean cached pages of the file are dropped, so
 *                the next reads come from the medium (O_DIRECT is how the engine reads uncached where it can).
 *   fullsync(fd) macOS: fcntl(F_FULLFSYNC), the data reach the medium, not just the drive's write cache (fsync
 *                stops there on macOS). Linux: fsync, which already asks the device to flush its cache.
 *
 * A failure rejects with an Error whose code is the errno's name (EBADF, ENOTTY, ...).
 *
 *   xxh3Segments(view, length, segment[, portable])  the XXH3-64 (xxh3.c) of each `segment`-byte piece of
 *                view[0, length), as 16 hex digits each: the block hashes of a write and of its read-back, off
 *                the JS thread and read in place (the wasm hasher copies every byte into its own memory first).
 *                The caller keeps the bytes unchanged until the promise settles; a reference keeps the view
 *                alive meanwhile. `portable` (tests): the C loop even where the AVX2 one runs; xxh3Wide says
 *                whether it does.
 *   xxh3SegmentsSync(view, length, segment[, portable])  the same on the calling thread, returning the array.
 *   crc32Raw(view, register)  the CRC-32 register after the view's bytes (crc32.c: no inversions; zlib's crc32 is
 *                ~crc32Raw(~c)), synchronously: partclone's block checksums and the gzip members' on the threads
 *                that hold the bytes. crc32Fast says whether the folding (PCLMULQDQ) path runs here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <node_api.h>
#include "crc32.h"
#include "xxh3.h"

enum op { OP_NOCACHE, OP_FULLSYNC };

struct work {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  enum op op;
  int error;
};

static int do_nocache(int fd) {
#ifdef __APPLE__
  return fcntl(fd, F_NOCACHE, 1) == -1 ? errno : 0;
#else
  return posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
#endif
}

static int do_fullsync(int fd) {
#ifdef __APPLE__
  return fcntl(fd, F_FULLFSYNC) == -1 ? errno : 0;
#else
  return fsync(fd) == -1 ? errno : 0;
#endif
}

static void execute(napi_env env, void *data) {
  (void)env;
  struct work *w = data;
  w->error = w->op == OP_NOCACHE ? do_nocache(w->fd) : do_fullsync(w->fd);
}

static const char *errno_name(int e) {
  switch (e) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case ENOTSUP: return "ENOTSUP";
    case ESPIPE: return "ESPIPE";
    case EIO: return "EIO";
    case EINTR: return "EINTR";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    default: return "EUNKNOWN";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  struct work *w = data;
  napi_value result;
  if (status == napi_ok && w->error == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    int e = status == napi_ok ? w->error : ECANCELED;
    char text[160];
    snprintf(text, sizeof text, "%s: %s, %s", errno_name(e), strerror(e),
             w->op == OP_NOCACHE ? "nocache" : "fullsync");
    napi_value code, message;
    napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &result);
    napi_reject_deferred(env, w->deferred, result);
  }
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value start(napi_env env, napi_callback_info info, enum op op) {
  size_t argc = 1;
  napi_value argv[1], promise, name;
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "a file descriptor is required");
    return NULL;
  }
  struct work *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  w->fd = fd;
  w->op = op;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, op == OP_NOCACHE ? "atlas_io.nocache" : "atlas_io.fullsync", NAPI_AUTO_LENGTH,
                          &name);
  napi_create_async_work(env, NULL, name, execute, complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

static napi_value nocache(napi_env env, napi_callback_info info) { return start(env, info, OP_NOCACHE); }
static napi_value fullsync(napi_env env, napi_callback_info info) { return start(env, info, OP_FULLSYNC); }

/* ---- block hashes ---- */

struct hash_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref view;
  const uint8_t *data;
  size_t length;
  size_t segment;
  size_t count;
  int portable;
  uint64_t *hashes;
};

static void hash_execute(napi_env env, void *data) {
  (void)env;
  struct hash_work *w = data;
  for (size_t i = 0; i < w->count; i++) {
    size_t at = i * w->segment;
    size_t n = w->length - at < w->segment ? w->length - at : w->segment;
    w->hashes[i] = atlas_xxh3(w->data + at, n, w->portable);
  }
}

/* The hashes as an array of 16-hex-digit strings (the form hash-wasm and xxhsum print). */
static napi_status hex_array(napi_env env, const uint64_t *hashes, size_t count, napi_value *result) {
  static const char digits[] = "0123456789abcdef";
  napi_status status = napi_create_array_with_length(env, count, result);
  for (size_t i = 0; status == napi_ok && i < count; i++) {
    char hex[16];
    for (int k = 0; k < 16; k++) hex[k] = digits[(hashes[i] >> (60 - 4 * k)) & 15];
    napi_value text;
    status = napi_create_string_latin1(env, hex, 16, &text);
    if (status == napi_ok) status = napi_set_element(env, *result, (uint32_t)i, text);
  }
  return status;
}

static void hash_complete(napi_env env, napi_status status, void *data) {
  struct hash_work *w = data;
  napi_value result;
  if (status == napi_ok && hex_array(env, w->hashes, w->count, &result) == napi_ok) {
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    napi_value message;
    napi_create_string_utf8(env, "xxh3Segments was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, w->deferred, result);
  }
  napi_delete_reference(env, w->view);
  napi_delete_async_work(env, w->work);
  free(w->hashes);
  free(w);
}

static napi_value xxh3_segments_of(napi_env env, napi_callback_info info, bool now) {
  size_t argc = 4;
  napi_value argv[4], promise, name;
  bool is_view = false, portable = false;
  void *data = NULL;
  size_t byte_length = 0;
  int64_t length = -1, segment = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_is_typedarray(env, argv[0], &is_view) != napi_ok || !is_view ||
      napi_get_value_int64(env, argv[1], &length) != napi_ok ||
      napi_get_value_int64(env, argv[2], &segment) != napi_ok ||
      (argc > 3 && napi_get_value_bool(env, argv[3], &portable) != napi_ok)) {
    napi_throw_type_error(env, NULL, "xxh3Segments(view, length, segment[, portable])");
    return NULL;
  }
  napi_typedarray_type type;
  size_t elements;
  napi_get_typedarray_info(env, argv[0], &type, &elements, &data, NULL, NULL);
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "xxh3Segments: the view must be a Uint8Array");
    return NULL;
  }
  byte_length = elements;
  if (length < 0 || (uint64_t)length > byte_length || segment <= 0) {
    napi_throw_range_error(env, NULL, "xxh3Segments: length or segment out of range");
    return NULL;
  }
  struct hash_work *w = calloc(1, sizeof *w);
  size_t count = length == 0 ? 0 : ((size_t)length + (size_t)segment - 1) / (size_t)segment;
  uint64_t *hashes = calloc(count ? count : 1, sizeof *hashes);
  if (!w || !hashes) {
    free(w);
    free(hashes);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  w->data = data;
  w->length = (size_t)length;
  w->segment = (size_t)segment;
  w->count = count;
  w->portable = portable;
  w->hashes = hashes;
  if (now) {
    napi_value result = NULL;
    hash_execute(env, w);
    if (hex_array(env, hashes, count, &result) != napi_ok) napi_throw_error(env, NULL, "out of memory");
    free(hashes);
    free(w);
    return result;
  }
  napi_create_reference(env, argv[0], 1, &w->view);
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "atlas_io.xxh3Segments", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, hash_execute, hash_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

/* ---- CRC-32 ---- */

static napi_value crc32_raw(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  bool is_view = false;
  uint32_t reg = 0;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_is_typedarray(env, argv[0], &is_view) != napi_ok || !is_view ||
      napi_get_value_uint32(env, argv[1], &reg) != napi_ok) {
    napi_throw_type_error(env, NULL, "crc32Raw(view, register)");
    return NULL;
  }
  napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL);
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32Raw: the view must be a Uint8Array");
    return NULL;
  }
  napi_create_uint32(env, atlas_crc32_raw(reg, data, length), &result);
  return result;
}

static napi_value xxh3_segments(napi_env env, napi_callback_info info) {
  return xxh3_segments_of(env, info, false);
}
static napi_value xxh3_segments_sync(napi_env env, napi_callback_info info) {
  return xxh3_segments_of(env, info, true);
}

static napi_value init(napi_env env, napi_value exports) {
  atlas_crc32_init();
  napi_value fast, wide;
  napi_get_boolean(env, atlas_crc32_fast() != 0, &fast);
  napi_get_boolean(env, atlas_xxh3_wide() != 0, &wide);
  napi_property_descriptor props[] = {
      {"nocache", NULL, nocache, NULL, NULL, NULL, napi_default, NULL},
      {"fullsync", NULL, fullsync, NULL, NULL, NULL, napi_default, NULL},
      {"xxh3Segments", NULL, xxh3_segments, NULL, NULL, NULL, napi_default, NULL},
      {"xxh3SegmentsSync", NULL, xxh3_segments_sync, NULL, NULL, NULL, napi_default, NULL},
      {"xxh3Wide", NULL, NULL, NULL, NULL, wide, napi_enumerable, NULL},
      {"crc32Raw", NULL, crc32_raw, NULL, NULL, NULL, napi_default, NULL},
      {"crc32Fast", NULL, NULL, NULL, NULL, fast, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
