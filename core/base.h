/* base.h -- what every core file shares: allocation, errors, logging,
 * context maps, and the compiler hints of hot paths. Nothing here is API. */
#ifndef UVRUN_BASE_H
#define UVRUN_BASE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvrun.h"
#include "uvrun_uv.h"

#if defined(__GNUC__)
#  define UVR_LIKELY(x) __builtin_expect(!!(x), 1)
#  define UVR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define UVR_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* For the few thread-locals on hot paths: initial-exec avoids a call to
 * __tls_get_addr on every access from the shared library. */
#  define UVR_TLS_FAST _Thread_local __attribute__((tls_model("initial-exec")))
/* For a small function on a hot path that also has cold callers, which
 * would otherwise make the compiler keep it out of line. */
#  define UVR_HOT_INLINE static inline __attribute__((always_inline))
#else
#  define UVR_HOT_INLINE static inline
#  define UVR_TLS_FAST _Thread_local
#  define UVR_LIKELY(x) (x)
#  define UVR_UNLIKELY(x) (x)
#  define UVR_PRINTF(a, b)
#endif

/* How long a thread polls for work from another thread before it sleeps
 * (an executor worker between jobs, the loop awaiting a job): about the
 * cost of a futex sleep and wake-up, which it saves when work comes soon. */
#define UVR_SPIN_NS 50000
static inline void uvr_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- alloc.c ---- */
void *uvr_malloc(size_t size);
void *uvr_calloc(size_t n, size_t size);
void *uvr_realloc(void *ptr, size_t size);
void uvr_free(void *ptr);
char *uvr_strdup(const char *s);
/* Marks that objects exist, so the allocator can no longer change. */
void uvr_alloc_lock(void);

/* ---- error.c ---- */
struct uvrun_error_s {
  atomic_int refs;
  int code;
  void *payload;
  uvrun_free_fn payload_free;
  uvrun_error_t *context; /* the error this one was raised while handling */
  char message[];         /* NUL-terminated */
};
/* Records code + formatted message as this thread's last failure; returns
 * code, so `return uvr_fail(UVRUN_E_INVAL, "...")` reads naturally. */
int uvr_fail(int code, const char *fmt, ...) UVR_PRINTF(2, 3);
/* The thread's last failure with its object (reference taken over). */
int uvr_fail_error(uvrun_error_t *err);
/* Attaches `context` (a reference taken over) as what `err` was raised
 * while handling, as Python sets __context__; drops it where err cannot
 * take it (the static out-of-memory error, or a cycle). */
void uvr_error_set_context(uvrun_error_t *err, uvrun_error_t *context);
int uvr_last_code(void);
/* How many failures this thread has recorded (uvr_failed_in_step). */
extern UVR_TLS_FAST unsigned uvr_fail_serial;
/* A new error; on OOM a static NOMEM error (refcount is ignored for it). */
uvrun_error_t *uvr_error_make(int code, const char *message);
/* A CancelledError carrying msg; NULL for no message or no memory (the
 * message is lost, as a copy of it would be). */
uvrun_error_t *uvr_cancelled_with(const char *msg);
/* Error for a negative code from a step: the thread's last message when
 * it has that code, else the code's text. */
uvrun_error_t *uvr_error_for_code(int code);

/* ---- log.c ---- */
void uvr_logf(int level, const char *fmt, ...) UVR_PRINTF(2, 3);

/* ---- context.c ---- */
/* An immutable, reference-counted map from variable to value. NULL is the
 * empty map. Copying a context shares its map (O(1)). */
typedef struct uvr_map uvr_map;
uvr_map *uvr_map_ref(uvr_map *map);
void uvr_map_unref(uvr_map *map);

struct uvrun_context_s {
  uvr_map *map;
  uvrun_context_t *prev; /* the context current when entered; NULL: not entered */
};
/* The thread's current context (never NULL: a thread-local base). */
uvrun_context_t *uvr_context_current(void);
/* Enter/exit without the entered check, for the loop's hot paths. */
void uvr_context_enter(uvrun_context_t *ctx);
void uvr_context_exit(uvrun_context_t *ctx);
/* Enter a fresh context holding (a reference to) map: code run inside works
 * on a copy, as a call_soon callback does (R31). */
void uvr_scope_enter(uvrun_context_t *scope, uvr_map *map);
void uvr_scope_exit(uvrun_context_t *scope);
/* Calls fn(ud) inside such a scope. */
void uvr_call_in_map(uvr_map *map, uvrun_callback_fn fn, void *ud);

#endif /* UVRUN_BASE_H */
