/* threadsafe.c -- what other threads post to a loop: call_soon_threadsafe,
 * executor completions, async generator finalizers.
 *
 * Posts are 16-byte cells (uvr_ts_cell) appended under a mutex that sits on
 * cache lines of its own (uvr_tsq); a uv_async_t wakes the loop when the
 * queue turns non-empty. The loop takes the whole queue at once and queues
 * each post as a ready item. */
#include <pthread.h>

#include "loop.h"

/* Appends k cells (see uvr_ts_cell) in one go, so that the loop never
 * sees a head without its body. */
static int ts_post(uvrun_loop_t *loop, const uvr_ts_cell *cells, size_t k) {
  uvr_ts_cell *at;
  uv_mutex_lock(&loop->ts.mu);
  if (loop->ts.wake == NULL) {
    uv_mutex_unlock(&loop->ts.mu);
    return UVRUN_E_LOOP_CLOSED;
  }
  if (loop->ts.cap - loop->ts.n < k) {
    size_t cap = loop->ts.cap ? loop->ts.cap * 2 : 64;
    uvr_ts_cell *grown = uvr_realloc(loop->ts.cells, cap * sizeof *grown);
    if (grown == NULL) {
      uv_mutex_unlock(&loop->ts.mu);
      return UVRUN_E_NOMEM;
    }
    loop->ts.cells = grown;
    loop->ts.cap = cap;
  }
  at = loop->ts.cells + loop->ts.n;
  at[0] = cells[0];
  if (k == 2) at[1] = cells[1];
  loop->ts.n += k;
  if (loop->ts.n == k) {
    atomic_store_explicit(&loop->ts.pending, 1, memory_order_release);
    /* Under the lock: close() takes it before it gives the backend up. */
    uvr_wake(loop->ts.wake);
  }
  uv_mutex_unlock(&loop->ts.mu);
  return 0;
}

int uvr_loop_push_threadsafe(uvrun_loop_t *loop, uvr_run_fn run, void *a) {
  uvr_ts_cell cells[2];
  cells[0].head.none = NULL;
  cells[0].head.ctx = NULL;
  cells[1].item.run = run;
  cells[1].item.a = a;
  return ts_post(loop, cells, 2);
}

void uvr_loop_lost(uvrun_loop_t *loop) {
  uvr_logf(UVRUN_LOG_ERROR, "out of memory: a queued callback was dropped; the loop's run fails");
  atomic_store_explicit(&loop->ts.lost, 1, memory_order_release);
  uv_mutex_lock(&loop->ts.mu);
  if (loop->ts.wake != NULL) uvr_wake(loop->ts.wake); /* wake a waiting loop */
  uv_mutex_unlock(&loop->ts.mu);
}

int uvrun_loop_call_soon_threadsafe(uvrun_loop_t *loop, uvrun_callback_fn cb, void *ud) {
  uvr_ts_cell cells[2];
  uvr_map *ctx;
  int rc;
  if (loop == NULL || cb == NULL)
    return uvr_fail(UVRUN_E_INVAL, "a callable object was expected by call_soon_threadsafe()");
  ctx = uvr_map_ref(uvr_context_current()->map);
  cells[ctx != NULL].call.cb = cb;
  cells[ctx != NULL].call.ud = ud;
  if (ctx != NULL) {
    cells[0].head.none = NULL;
    cells[0].head.ctx = ctx;
  }
  rc = ts_post(loop, cells, ctx != NULL ? 2 : 1);
  if (rc < 0) {
    uvr_map_unref(ctx);
    return uvr_fail(rc, "%s", uvrun_strerror(rc));
  }
  return 0;
}

/* The queue's critical sections are a few stores: a poster that finds the
 * lock taken spins briefly before it sleeps in the kernel (a futex sleep and
 * wake-up cost more than the wait). */
static int mutex_init_adaptive(uv_mutex_t *mu) {
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_t attr;
  int rc;
  if ((rc = pthread_mutexattr_init(&attr)) != 0) return -rc;
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  rc = pthread_mutex_init(mu, &attr);
  pthread_mutexattr_destroy(&attr);
  return -rc;
#else
  return uv_mutex_init(mu);
#endif
}

/* The loop's item for the post at cells[*i], which it steps past. */
static uvr_item ts_take(const uvr_ts_cell *cells, size_t *i) {
  const uvr_ts_cell *c = &cells[(*i)++];
  uvr_item it = {uvr_run_callback, {c->call.cb}, c->call.ud, NULL, {NULL}, NULL};
  if (c->call.cb != NULL) return it;
  it.ctx = c->head.ctx;
  c = &cells[(*i)++];
  if (it.ctx != NULL) {
    it.fn.cb = c->call.cb;
    it.a = c->call.ud;
  } else {
    it.run = c->item.run;
    it.a = c->item.a;
  }
  return it;
}

/* Buffers are swapped, not reallocated: a steady stream allocates nothing. */
void uvr_ts_drain(uvrun_loop_t *loop) {
  uvr_ts_cell *cells;
  size_t n, i = 0, cap;
  uv_mutex_lock(&loop->ts.mu);
  cells = loop->ts.cells;
  n = loop->ts.n;
  cap = loop->ts.cap;
  loop->ts.cells = loop->ts.spare;
  loop->ts.cap = loop->ts.spare_cap;
  loop->ts.n = 0;
  atomic_store_explicit(&loop->ts.pending, 0, memory_order_relaxed);
  uv_mutex_unlock(&loop->ts.mu);
  while (i < n) {
    uvr_item it = ts_take(cells, &i);
    if (uvr_loop_push(loop, &it) < 0) {
      it.run(loop, &it, 0);
      uvr_loop_lost(loop);
    }
  }
  loop->ts.spare = cells;
  loop->ts.spare_cap = cap;
}

int uvr_ts_init(uvrun_loop_t *loop) { return mutex_init_adaptive(&loop->ts.mu); }

void uvr_ts_close(uvrun_loop_t *loop) {
  uv_mutex_lock(&loop->ts.mu);
  loop->ts.wake = NULL; /* other threads now get LOOP_CLOSED */
  uv_mutex_unlock(&loop->ts.mu);
}

void uvr_ts_discard(uvrun_loop_t *loop) {
  size_t i;
  for (i = 0; i < loop->ts.n;) {
    uvr_item it = ts_take(loop->ts.cells, &i);
    it.run(loop, &it, 0);
  }
  loop->ts.n = 0;
}

void uvr_ts_free(uvrun_loop_t *loop) {
  uvr_free(loop->ts.cells);
  uvr_free(loop->ts.spare);
  loop->ts.cells = loop->ts.spare = NULL;
  loop->ts.cap = loop->ts.spare_cap = 0;
}
