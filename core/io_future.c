/* io_future.c -- futures for I/O operations: a read, a drain, a connect.
 *
 * An operation keeps its state in the future's own block, after a pointer to
 * its kind; the kind says how it is cancelled (a connect closes its sockets),
 * freed, and taken (a read consumes its bytes only when its result is taken,
 * so that a read cancelled after its bytes arrived consumed none). */
#include <string.h>

#include "io.h"

#define IO_STATE_AT ((sizeof(const uvr_io_kind *) + 15) & ~(size_t)15)

static const uvr_io_kind **kind_slot(const uvrun_future_t *fut) { return uvr_future_state(fut); }

uvrun_future_t *uvr_io_future_new(uvrun_loop_t *loop, const uvr_io_kind *kind, size_t state_size) {
  uvrun_future_t *fut = uvr_future_new_with_state(loop, IO_STATE_AT + state_size, UVR_FUT_IO);
  if (fut != NULL) *kind_slot(fut) = kind;
  return fut;
}

void *uvr_io_future_state(const uvrun_future_t *fut) { return (char *)uvr_future_state(fut) + IO_STATE_AT; }

const uvr_io_kind *uvr_io_future_kind(const uvrun_future_t *fut) { return *kind_slot(fut); }

static int io_cancel(uvrun_future_t *fut, const char *msg) {
  const uvr_io_kind *kind = uvr_io_future_kind(fut);
  return kind->cancel != NULL ? kind->cancel(fut, msg) : uvr_future_cancel_plain(fut, msg);
}

static void io_free(uvrun_future_t *fut) {
  const uvr_io_kind *kind = uvr_io_future_kind(fut);
  if (kind->on_free != NULL) kind->on_free(fut);
}

static void io_take(uvrun_future_t *fut) {
  const uvr_io_kind *kind = uvr_io_future_kind(fut);
  if (kind->take != NULL) kind->take(fut);
}

const uvr_future_ops uvr_io_future_ops = {io_cancel, io_free, io_take};

void uvr_io_future_drop(void *fut) { uvrun_future_unref(fut); }

int uvr_io_check_loop(uvrun_loop_t *loop, const char *what) {
  if (loop == NULL) return uvr_fail(UVRUN_E_INVAL, "%s: loop must not be NULL", what);
  return uvr_loop_check(loop);
}

int uvr_io_info_start(const uint32_t *size, void *all, size_t all_size) {
  if (size == NULL) return uvr_fail(UVRUN_E_INVAL, "info must not be NULL");
  if (*size < sizeof *size) return uvr_fail(UVRUN_E_INVAL, "info->size must be set");
  memset(all, 0, all_size);
  *(uint32_t *)all = *size < all_size ? *size : (uint32_t)all_size;
  return 0;
}

const char *uvr_io_strerror(int code, char *buf, size_t len) {
  if (code <= -20000 && code >= UVRUN_E_MAX_) return uvrun_strerror(code);
  return uv_strerror_r(code, buf, len);
}

const char *uvr_io_failure(const char *what, int code, char *buf, size_t len) {
  char text[80], name[32];
  if (code <= -20000 && code >= UVRUN_E_MAX_) snprintf(name, sizeof name, "%s", uvrun_err_name(code));
  else uv_err_name_r(code, name, sizeof name);
  snprintf(buf, len, "%s failed: %s (%s)", what, uvr_io_strerror(code, text, sizeof text), name);
  return buf;
}
