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
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ENOSPC: return "ENOSPC";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case EAGAIN: return "EAGAIN";
    case ECANCELED: return "ECANCELED";
#ifdef ENOMEDIUM
    case ENOMEDIUM: return "ENOMEDIUM";
#endif
    default: return "EUNKNOWN";
  }
}

/* An Error as Node's fs makes one for errno `e` in `syscall`: code, errno, syscall and "CODE: text, syscall". */
static napi_value errno_error(napi_env env, int e, const char *syscall) {
  char text[160];
  snprintf(text, sizeof text, "%s: %s, %s", errno_name(e), strerror(e), syscall);
  napi_value error, code, message, number, name;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -e, &number);
  napi_set_named_property(env, error, "errno", number);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, error, "syscall", name);
  return error;
}

static void complete(napi_env env, napi_status status, void *data) {
  struct work *w = data;
  napi_value result;
  if (status == napi_ok && w->error == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    int e = status == napi_ok ? w->error : ECANCELED;
    result = errno_error(env, e, w->op == OP_NOCACHE ? "nocache" : "fullsync");
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

/* The XXH3 of each `segment`-byte piece of data[0, length) (the last may be shorter), into hashes[count]. */
struct segments {
  const uint8_t *data;
  size_t length;
  size_t segment;
  int portable;
  size_t count;
  uint64_t *hashes;
};

/* Room for the hashes of `length` bytes in `segment`s; false (an Error thrown) when there is none. */
static bool segments_init(napi_env env, struct segments *s, size_t length, size_t segment, int portable) {
  s->length = length;
  s->segment = segment;
  s->portable = portable;
  s->count = length == 0 ? 0 : (length + segment - 1) / segment;
  s->hashes = calloc(s->count ? s->count : 1, sizeof *s->hashes);
  if (!s->hashes) napi_throw_error(env, NULL, "out of memory");
  return s->hashes != NULL;
}

static void segments_hash(struct segments *s) {
  for (size_t i = 0; i < s->count; i++) {
    size_t at = i * s->segment;
    size_t n = s->length - at < s->segment ? s->length - at : s->segment;
    s->hashes[i] = atlas_xxh3(s->data + at, n, s->portable);
  }
}

/* The hashes as an array of 16-hex-digit strings (the form hash-wasm and xxhsum print). */
static napi_status hex_array(napi_env env, const struct segments *s, napi_value *result) {
  static const char digits[] = "0123456789abcdef";
  napi_status status = napi_create_array_with_length(env, s->count, result);
  for (size_t i = 0; status == napi_ok && i < s->count; i++) {
    char hex[16];
    for (int k = 0; k < 16; k++) hex[k] = digits[(s->hashes[i] >> (60 - 4 * k)) & 15];
    napi_value text;
    status = napi_create_string_latin1(env, hex, 16, &text);
    if (status == napi_ok) status = napi_set_element(env, *result, (uint32_t)i, text);
  }
  return status;
}

/* The bytes of a Uint8Array argument; false (a TypeError thrown, naming `call`) for anything else. */
static bool uint8_view(napi_env env, napi_value value, const char *call, uint8_t **data, size_t *length) {
  bool is_view = false;
  napi_typedarray_type type;
  void *bytes = NULL;
  if (napi_is_typedarray(env, value, &is_view) != napi_ok || !is_view ||
      napi_get_typedarray_info(env, value, &type, length, &bytes, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    char text[120];
    snprintf(text, sizeof text, "%s: the view must be a Uint8Array", call);
    napi_throw_type_error(env, NULL, text);
    return false;
  }
  *data = bytes;
  return true;
}

struct hash_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref view;
  struct segments seg;
};

static void hash_execute(napi_env env, void *data) {
  (void)env;
  segments_hash(&((struct hash_work *)data)->seg);
}

static void hash_complete(napi_env env, napi_status status, void *data) {
  struct hash_work *w = data;
  napi_value result;
  if (status == napi_ok && hex_array(env, &w->seg, &result) == napi_ok) {
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    napi_value message;
    napi_create_string_utf8(env, "xxh3Segments was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, w->deferred, result);
  }
  napi_delete_reference(env, w->view);
  napi_delete_async_work(env, w->work);
  free(w->seg.hashes);
  free(w);
}

static napi_value xxh3_segments_of(napi_env env, napi_callback_info info, bool now) {
  size_t argc = 4;
  napi_value argv[4], promise, name;
  bool portable = false;
  uint8_t *data = NULL;
  size_t elements = 0;
  int64_t length = -1, segment = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int64(env, argv[1], &length) != napi_ok ||
      napi_get_value_int64(env, argv[2], &segment) != napi_ok ||
      (argc > 3 && napi_get_value_bool(env, argv[3], &portable) != napi_ok)) {
    napi_throw_type_error(env, NULL, "xxh3Segments(view, length, segment[, portable])");
    return NULL;
  }
  if (!uint8_view(env, argv[0], "xxh3Segments", &data, &elements)) return NULL;
  if (length < 0 || (uint64_t)length > elements || segment <= 0) {
    napi_throw_range_error(env, NULL, "xxh3Segments: length or segment out of range");
    return NULL;
  }
  struct hash_work *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (!segments_init(env, &w->seg, (size_t)length, (size_t)segment, portable)) {
    free(w);
    return NULL;
  }
  w->seg.data = data;
  if (now) {
    napi_value result = NULL;
    segments_hash(&w->seg);
    if (hex_array(env, &w->seg, &result) != napi_ok) napi_throw_error(env, NULL, "out of memory");
    free(w->seg.hashes);
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

/* ---- a read and its hashes in one work item ---- */

/*
 * The read-back's read and hash on the same libuv thread, one after the other: the bytes the kernel has just
 * copied into the buffer are hashed while they are still in this core's cache, where hashing them later on the
 * JS thread read them back from memory (the 4-card read-back was bound by that, not by the hash).
 */
struct read_hash_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref view;
  int fd;
  uint8_t *data;
  size_t length;
  int64_t position;
  size_t got;
  int error;
  struct segments seg; /* over data[hash_at, hash_at + hash_length) */
};

static void read_hash_execute(napi_env env, void *data) {
  (void)env;
  struct read_hash_work *w = data;
  while (w->got < w->length) {
    ssize_t n = pread(w->fd, w->data + w->got, w->length - w->got, (off_t)(w->position + (int64_t)w->got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      w->error = errno;
      return;
    }
    if (n == 0) break; /* the end of the device or file: a short read, the caller says what it means */
    w->got += (size_t)n;
  }
  if (w->got < (size_t)(w->seg.data - w->data) + w->seg.length) {
    w->seg.count = 0; /* short: no hashes */
    return;
  }
  segments_hash(&w->seg);
}

static void read_hash_complete(napi_env env, napi_status status, void *data) {
  struct read_hash_work *w = data;
  napi_value result = NULL, hashes = NULL, got = NULL;
  if (status == napi_ok && w->error == 0 && napi_create_object(env, &result) == napi_ok &&
      hex_array(env, &w->seg, &hashes) == napi_ok && napi_create_double(env, (double)w->got, &got) == napi_ok &&
      napi_set_named_property(env, result, "bytesRead", got) == napi_ok &&
      napi_set_named_property(env, result, "hashes", hashes) == napi_ok) {
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    /* as Node's fs gives it, so a card's EIO reads the same on either path */
    int e = status != napi_ok ? ECANCELED : w->error ? w->error : ENOMEM;
    napi_reject_deferred(env, w->deferred, errno_error(env, e, "read"));
  }
  napi_delete_reference(env, w->view);
  napi_delete_async_work(env, w->work);
  free(w->seg.hashes);
  free(w);
}

static napi_value read_hash(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], promise, name;
  int32_t fd = -1;
  uint8_t *data = NULL;
  size_t elements = 0;
  int64_t length = -1, position = -1, hash_at = -1, hash_length = -1, segment = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok ||
      napi_get_value_int64(env, argv[3], &position) != napi_ok ||
      napi_get_value_int64(env, argv[4], &hash_at) != napi_ok ||
      napi_get_value_int64(env, argv[5], &hash_length) != napi_ok ||
      napi_get_value_int64(env, argv[6], &segment) != napi_ok) {
    napi_throw_type_error(env, NULL, "readHash(fd, view, length, position, hashAt, hashLength, segment)");
    return NULL;
  }
  if (!uint8_view(env, argv[1], "readHash", &data, &elements)) return NULL;
  if (fd < 0 || length < 0 || (uint64_t)length > elements || position < 0 || hash_at < 0 || hash_length < 0 ||
      hash_at > length - hash_length || segment <= 0) {
    napi_throw_range_error(env, NULL, "readHash: an argument is out of range");
    return NULL;
  }
  struct read_hash_work *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (!segments_init(env, &w->seg, (size_t)hash_length, (size_t)segment, 0)) {
    free(w);
    return NULL;
  }
  w->fd = fd;
  w->data = data;
  w->length = (size_t)length;
  w->position = position;
  w->seg.data = data + hash_at;
  napi_create_reference(env, argv[1], 1, &w->view);
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "atlas_io.readHash", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, read_hash_execute, read_hash_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

/* ---- CRC-32 ---- */

static napi_value crc32_raw(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  uint32_t reg = 0;
  size_t length = 0;
  uint8_t *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_uint32(env, argv[1], &reg) != napi_ok) {
    napi_throw_type_error(env, NULL, "crc32Raw(view, register)");
    return NULL;
  }
  if (!uint8_view(env, argv[0], "crc32Raw", &data, &length)) return NULL;
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
      {"readHash", NULL, read_hash, NULL, NULL, NULL, napi_default, NULL},
      {"crc32Raw", NULL, crc32_raw, NULL, NULL, NULL, napi_default, NULL},
      {"crc32Fast", NULL, NULL, NULL, NULL, fast, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
