/* error.c -- the code table, error objects and the per-thread last error. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "base.h"

/* libuv's own codes (I/O errors pass through unchanged): a switch rather
 * than uv_err_name(), which allocates a string for a code it does not know. */
static const char *uv_code_name(int code) {
  switch (code) {
#define XX(name, msg) \
  case UV_##name: return #name;
    UV_ERRNO_MAP(XX)
#undef XX
  }
  return "UVRUN_E_UNKNOWN";
}

static const char *uv_code_message(int code) {
  switch (code) {
#define XX(name, msg) \
  case UV_##name: return msg;
    UV_ERRNO_MAP(XX)
#undef XX
  }
  return "unknown error";
}

const char *uvrun_err_name(int code) {
  switch (code) {
#define XX(name, value, msg) \
  case value: return "UVRUN_E_" #name;
    UVRUN_ERRNO_MAP(XX)
#undef XX
  }
  return uv_code_name(code);
}

const char *uvrun_strerror(int code) {
  switch (code) {
#define XX(name, value, msg) \
  case value: return msg;
    UVRUN_ERRNO_MAP(XX)
#undef XX
  }
  if (code == 0) return "success";
  return uv_code_message(code);
}

unsigned int uvrun_version(void) { return UVRUN_VERSION_HEX; }

const char *uvrun_version_string(void) {
  return UVRUN_STRINGIFY(UVRUN_VERSION_MAJOR) "." UVRUN_STRINGIFY(UVRUN_VERSION_MINOR) "." UVRUN_STRINGIFY(
      UVRUN_VERSION_PATCH);
}

/* ---- error objects ---- */

/* Handed out when memory for a real error object is not there. Its text
 * follows the header, as in a real one (a GNU C extension both GCC and clang
 * take; clang names it). */
#if defined(__clang__)
#  pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif
static struct {
  uvrun_error_t err;
  char text[sizeof "out of memory"];
} nomem_error = {{1, UVRUN_E_NOMEM, NULL, NULL, NULL}, "out of memory"};

static int is_static(const uvrun_error_t *err) { return err == &nomem_error.err; }

uvrun_error_t *uvrun_error_new(int code, const char *message, void *payload, uvrun_free_fn payload_free) {
  size_t len;
  uvrun_error_t *err;
  if (message == NULL) message = uvrun_strerror(code);
  len = strlen(message);
  err = uvr_malloc(sizeof *err + len + 1);
  if (err == NULL) return NULL;
  atomic_init(&err->refs, 1);
  err->code = code;
  err->payload = payload;
  err->payload_free = payload_free;
  err->context = NULL;
  memcpy(err->message, message, len + 1);
  return err;
}

uvrun_error_t *uvr_error_make(int code, const char *message) {
  uvrun_error_t *err = uvrun_error_new(code, message, NULL, NULL);
  return err != NULL ? err : &nomem_error.err;
}

uvrun_error_t *uvr_cancelled_with(const char *msg) {
  uvrun_error_t *err;
  if (msg == NULL || *msg == '\0') return NULL;
  err = uvr_error_make(UVRUN_E_CANCELLED, msg);
  return err->code == UVRUN_E_CANCELLED ? err : NULL;
}

uvrun_error_t *uvrun_error_ref(uvrun_error_t *err) {
  if (err != NULL && !is_static(err)) atomic_fetch_add_explicit(&err->refs, 1, memory_order_relaxed);
  return err;
}

void uvrun_error_unref(uvrun_error_t *err) {
  if (err == NULL || is_static(err)) return;
  if (atomic_fetch_sub_explicit(&err->refs, 1, memory_order_acq_rel) != 1) return;
  if (err->payload_free != NULL) err->payload_free(err->payload);
  uvrun_error_unref(err->context);
  uvr_free(err);
}

void uvr_error_set_context(uvrun_error_t *err, uvrun_error_t *context) {
  const uvrun_error_t *e;
  for (e = context; e != NULL; e = e->context)
    if (e == err) break;
  if (err == NULL || is_static(err) || err->context != NULL || e != NULL) {
    uvrun_error_unref(context);
    return;
  }
  err->context = context;
}

uvrun_error_t *uvrun_error_context(const uvrun_error_t *err) { return err != NULL ? err->context : NULL; }

int uvrun_error_code(const uvrun_error_t *err) { return err != NULL ? err->code : 0; }
const char *uvrun_error_message(const uvrun_error_t *err) { return err != NULL ? err->message : ""; }
void *uvrun_error_payload(const uvrun_error_t *err) { return err != NULL ? err->payload : NULL; }
uvrun_free_fn uvrun_error_payload_free(const uvrun_error_t *err) { return err != NULL ? err->payload_free : NULL; }

/* ---- the thread's last failure ---- */

static _Thread_local int last_code;
static _Thread_local char last_msg[512];
static _Thread_local uvrun_error_t *last_error;
UVR_TLS_FAST unsigned uvr_fail_serial;

int uvr_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  va_end(ap);
  last_code = code;
  uvr_fail_serial++;
  uvrun_error_unref(last_error);
  last_error = NULL;
  return code;
}

/* A thread that ends holding an error object as its last failure lets go of
 * it then (a thread-specific key's destructor runs before the thread's
 * thread-locals go). Keyed once per thread, at its first error object. */
static pthread_key_t last_error_key;
static pthread_once_t last_error_key_once = PTHREAD_ONCE_INIT;
static _Thread_local unsigned char last_error_keyed;

static void release_last_error(void *slot) {
  uvrun_error_t **at = slot;
  uvrun_error_unref(*at);
  *at = NULL;
}

static void make_last_error_key(void) { pthread_key_create(&last_error_key, release_last_error); }

int uvr_fail_error(uvrun_error_t *err) {
  int code = uvr_fail(err->code, "%s", err->message);
  last_error = err;
  if (!last_error_keyed) {
    pthread_once(&last_error_key_once, make_last_error_key);
    last_error_keyed = pthread_setspecific(last_error_key, &last_error) == 0;
  }
  return code;
}

int uvr_last_code(void) { return last_code; }

const char *uvrun_errmsg(void) { return last_msg; }

uvrun_error_t *uvrun_take_error(void) {
  uvrun_error_t *err = last_error;
  if (err == NULL && last_code < 0) err = uvrun_error_new(last_code, last_msg, NULL, NULL);
  last_error = NULL;
  return err;
}

int uvrun_error_set_last(uvrun_error_t *err) {
  if (err == NULL) return uvr_fail(UVRUN_E_INVAL, "err must not be NULL");
  return uvr_fail_error(err);
}

uvrun_error_t *uvr_error_for_code(int code) {
  if (code == last_code && last_msg[0] != '\0') {
    if (last_error != NULL && last_error->code == code) return uvrun_error_ref(last_error);
    return uvr_error_make(code, last_msg);
  }
  return uvr_error_make(code, uvrun_strerror(code));
}
