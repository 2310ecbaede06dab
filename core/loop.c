/* loop.c -- the event loop: a ready queue drained once per iteration with a
 * snapshot (R35), a timer heap behind one uv_timer_t, a queue for other
 * threads behind one uv_async_t, all on a private uv_loop_t.
 *
 * No user code runs inside a libuv callback: libuv callbacks only wake the
 * loop or queue items, and items run from run_once(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include "internal.h"

UVR_TLS_FAST uvrun_loop_t *uvr_running_loop;
UVR_TLS_FAST uvrun_loop_t *uvr_current_loop;

/* How many busy iterations may pass without polling for I/O. Polling costs
 * a syscall; never polling would starve I/O while callbacks keep coming. */
#define POLL_INTERVAL 61
#define DEFAULT_SLOW_NS 100000000u

uint64_t uvr_now_ns(void) { return uv_hrtime(); }

/* D7: UVRUN_DEBUG=1/true/yes turns debug mode on, read at construction. */
static int debug_from_env(void) {
  const char *v = getenv("UVRUN_DEBUG");
  if (v == NULL) return 0;
  return strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0;
}

/* R68: a forked child starts with no running or current loop. */
static void clear_tls_in_child(void) {
  uvr_running_loop = NULL;
  uvr_current_loop = NULL;
  uvr_running_step = NULL;
}
static uv_once_t atfork_once = UV_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(NULL, NULL, clear_tls_in_child); }

/* ---- ready queue ---- */

static int ready_grow(uvrun_loop_t *loop) {
  uvr_ring *r = &loop->ready;
  /* 128 words (1 KiB) come from malloc's per-thread cache: a fresh loop
   * allocates and frees a bigger first block at a cost growing never has. */
  size_t old = r->cap, cap = old ? old * 2 : 128;
  size_t wrapped = r->head + r->nwords > old ? r->head + r->nwords - old : 0;
  /* realloc: a big ring is remapped rather than copied, so the old and the
   * new block are never both resident (a burst of 100k tasks peaks 1 MiB
   * lower). The words stay where they were; those that wrapped past the
   * old end move after it. */
  uvr_word *words = uvr_realloc(r->words, cap * sizeof *words);
  if (words == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  memcpy(words + old, words, wrapped * sizeof *words);
  r->words = words;
  r->cap = cap;
  return 0;
}

/* The one- and two-word forms again when the queue has to grow first
 * (calling the inline uvr_loop_push from here makes GCC stop inlining it
 * into the task step: W3 yield +1.5 ns, measured), and the four- and
 * six-word forms. */
int uvr_loop_push_words(uvrun_loop_t *loop, const uvr_item *item) {
  uvr_ring *r = &loop->ready;
  uvr_word w[6];
  size_t n, i, at;
  if (uvr_item_is_run_a(item)) {
    n = item->run == uvr_task_run_step ? 1 : 2; /* the tag is the length */
    w[0].tag = (uintptr_t)item->a | n;
    w[1].run = item->run;
  } else if (item->x.handle == NULL && item->ctx == NULL && ((uintptr_t)item->a & 3) == 0) {
    w[0].tag = (uintptr_t)item->a | 3;
    w[1].run = item->run;
    w[2].fn = item->fn;
    w[3].p = item->b;
    n = 4;
  } else {
    w[0].tag = (uintptr_t)item->ctx;
    w[1].run = item->run;
    w[2].fn = item->fn;
    w[3].p = item->a;
    w[4].p = item->b;
    w[5].x = item->x;
    n = 6;
  }
  if (r->cap - r->nwords < n && ready_grow(loop) < 0) return UVRUN_E_NOMEM;
  at = r->head + r->nwords;
  for (i = 0; i < n; i++) r->words[(at + i) & (r->cap - 1)] = w[i];
  r->nwords += n;
  r->count++;
  return 0;
}

static uvr_item ring_pop(uvr_ring *r) {
  const uvr_word *w = r->words;
  size_t mask = r->cap - 1, h = r->head, n;
  uintptr_t tag = w[h].tag;
  uvr_item it = {uvr_task_run_step, {NULL}, (void *)(tag & ~(uintptr_t)3), NULL, {NULL}, NULL};
  if (UVR_LIKELY((tag & 3) == 1)) {
    n = 1;
  } else if ((tag & 3) == 2) {
    it.run = w[(h + 1) & mask].run;
    n = 2;
  } else if ((tag & 3) == 3) {
    it.run = w[(h + 1) & mask].run;
    it.fn = w[(h + 2) & mask].fn;
    it.b = w[(h + 3) & mask].p;
    n = 4;
  } else {
    it.ctx = (uvr_map *)tag;
    it.run = w[(h + 1) & mask].run;
    it.fn = w[(h + 2) & mask].fn;
    it.a = w[(h + 3) & mask].p;
    it.b = w[(h + 4) & mask].p;
    it.x = w[(h + 5) & mask].x;
    n = 6;
  }
  r->head = (h + n) & mask;
  r->nwords -= n;
  r->count--;
  return it;
}

void uvr_scope_enter(uvrun_context_t *scope, uvr_map *map) {
  scope->map = uvr_map_ref(map);
  scope->prev = NULL;
  uvr_context_enter(scope);
}

void uvr_scope_exit(uvrun_context_t *scope) {
  uvr_context_exit(scope);
  uvr_map_unref(scope->map); /* the original, or what the code set */
}

static void run_in_map(uvr_map *map, uvrun_callback_fn fn, void *ud) {
  uvrun_context_t scope;
  uvr_scope_enter(&scope, map);
  fn(ud);
  uvr_scope_exit(&scope);
}

static void release_item(uvr_item *it) {
  uvrun_handle_unref(it->x.handle);
  uvr_map_unref(it->ctx);
}

void uvr_run_callback(uvrun_loop_t *loop, uvr_item *it, int run) {
  (void)loop;
  if (run && !(it->x.handle != NULL && it->x.handle->timer.cancelled)) run_in_map(it->ctx, it->fn.cb, it->a);
  release_item(it);
}

/* ---- handles and the timer heap ---- */

static uvrun_handle_t *handle_new(uvrun_loop_t *loop, uvrun_callback_fn cb, void *ud, int refs) {
  uvrun_handle_t *h = uvr_calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  h->refs = refs;
  h->cb = cb;
  h->ud = ud;
  h->loop = loop;
  return h;
}

void uvrun_handle_unref(uvrun_handle_t *h) {
  if (h == NULL || --h->refs > 0) return;
  uvr_map_unref(h->ctx);
  uvr_free(h);
}

void uvr_timer_cancel(uvrun_loop_t *loop, uvr_timer *t) {
  if (t->cancelled) return;
  t->cancelled = 1;
  if (t->in_heap) loop->heap_cancelled++;
}

void uvrun_handle_cancel(uvrun_handle_t *h) {
  if (h == NULL || h->timer.cancelled) return;
  uvr_timer_cancel(h->loop, &h->timer);
  /* Like asyncio, a cancelled handle lets go of what it would have run. */
  uvr_map_unref(h->ctx);
  h->ctx = NULL;
}

int uvrun_handle_cancelled(const uvrun_handle_t *h) { return h != NULL && h->timer.cancelled; }

/* The heap's reference, given back. */
static void timer_release(uvr_timer *t) {
  if (t->kind == UVR_TIMER_SLEEP) {
    uvr_sleep_release(t);
  } else if (t->kind == UVR_TIMER_TASK) {
    uvrun_task_unref(UVR_TASK_OF_TIMER(t));
  } else {
    uvrun_handle_unref((uvrun_handle_t *)t);
  }
}

static int heap_before(const uvr_timer_slot *a, const uvr_timer_slot *b) {
  /* Timers with one deadline are created close together: their 32-bit
   * sequence numbers compare by difference, across a wrap too. */
  return a->when < b->when || (a->when == b->when && (int32_t)(a->t->seq - b->t->seq) < 0);
}

static void heap_sift_up(uvr_timer_slot *heap, size_t i) {
  uvr_timer_slot t = heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!heap_before(&t, &heap[parent])) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = t;
}

static void heap_sift_down(uvr_timer_slot *heap, size_t n, size_t i) {
  uvr_timer_slot t = heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap_before(&heap[c + 1], &heap[c])) c++;
    if (!heap_before(&heap[c], &t)) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = t;
}

static int heap_push(uvrun_loop_t *loop, uvr_timer *t, uint64_t when) {
  if (loop->heap_n == loop->heap_cap) {
    size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
    uvr_timer_slot *heap = uvr_realloc(loop->heap, cap * sizeof *heap);
    if (heap == NULL) return UVRUN_E_NOMEM;
    loop->heap = heap;
    loop->heap_cap = cap;
  }
  t->seq = loop->timer_seq++;
  t->in_heap = 1;
  loop->heap[loop->heap_n].when = when;
  loop->heap[loop->heap_n].t = t;
  heap_sift_up(loop->heap, loop->heap_n++);
  return 0;
}

static uvr_timer *heap_pop(uvrun_loop_t *loop) {
  uvr_timer *top = loop->heap[0].t;
  if (--loop->heap_n > 0) {
    loop->heap[0] = loop->heap[loop->heap_n];
    heap_sift_down(loop->heap, loop->heap_n, 0);
  }
  top->in_heap = 0;
  if (top->cancelled) loop->heap_cancelled--;
  return top;
}

/* Drops cancelled timers once they are most of the heap, as asyncio does, so
 * that many cancelled long sleeps do not pin memory. */
static void heap_compact(uvrun_loop_t *loop) {
  size_t i, n = 0;
  for (i = 0; i < loop->heap_n; i++) {
    uvr_timer *t = loop->heap[i].t;
    if (t->cancelled) {
      t->in_heap = 0;
      timer_release(t);
    } else {
      loop->heap[n++] = loop->heap[i];
    }
  }
  loop->heap_n = n;
  loop->heap_cancelled = 0;
  for (i = n / 2; i-- > 0;) heap_sift_down(loop->heap, n, i);
}

static void run_timer(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_handle_t *h = it->a;
  (void)loop;
  if (run && !h->timer.cancelled) {
    h->timer.cancelled = 1; /* fired: a late cancel() is a no-op */
    run_in_map(h->ctx, h->cb, h->ud);
  }
  uvrun_handle_unref(h);
}

/* ---- the public call_* family ---- */

/* The loop is open and, in debug mode, this is its thread. */
static int check_loop(uvrun_loop_t *loop) {
  if (loop->closed) return uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
  /* R23: only checked in debug mode, and only while the loop runs. */
  if (loop->debug && loop->running && !uv_thread_equal(&loop->thread, &(uv_thread_t){uv_thread_self()}))
    return uvr_fail(UVRUN_E_WRONG_THREAD,
                    "Non-thread-safe operation invoked on an event loop other than the current one");
  return 0;
}

static int check_call(uvrun_loop_t *loop, uvrun_callback_fn cb, const char *what) {
  if (loop == NULL || cb == NULL)
    return uvr_fail(UVRUN_E_INVAL, "a callable object was expected by %s()", what);
  return check_loop(loop);
}

int uvrun_loop_call_soon(uvrun_loop_t *loop, uvrun_callback_fn cb, void *ud,
                         uvrun_handle_t **handle) {
  uvrun_handle_t *h = NULL;
  uvr_item it = {uvr_run_callback, {cb}, ud, NULL, {NULL}, NULL};
  int rc = check_call(loop, cb, "call_soon");
  if (rc < 0) return rc;
  if (handle != NULL && (h = handle_new(loop, cb, ud, 2)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  it.x.handle = h;
  it.ctx = uvr_map_ref(uvr_context_current()->map);
  if (uvr_loop_push(loop, &it) < 0) {
    uvr_map_unref(it.ctx);
    uvr_free(h);
    return UVRUN_E_NOMEM;
  }
  if (handle != NULL) *handle = h;
  return 0;
}

static uint64_t seconds_to_ns(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1e9); }

int uvrun_loop_call_at(uvrun_loop_t *loop, double when, uvrun_callback_fn cb, void *ud,
                       uvrun_handle_t **handle) {
  uvrun_handle_t *h;
  int rc = check_call(loop, cb, "call_at");
  if (rc < 0) return rc;
  if (isnan(when)) return uvr_fail(UVRUN_E_INVAL, "when must be a number, not NaN");
  h = handle_new(loop, cb, ud, handle != NULL ? 2 : 1);
  if (h == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  h->ctx = uvr_map_ref(uvr_context_current()->map);
  if (heap_push(loop, &h->timer, seconds_to_ns(when)) < 0) {
    uvr_map_unref(h->ctx);
    uvr_free(h);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  if (handle != NULL) *handle = h;
  return 0;
}

/* The loop time `delay` seconds from now; a negative delay is now. */
static double time_after(const uvrun_loop_t *loop, double delay) {
  return uvrun_loop_time(loop) + (delay > 0 ? delay : 0);
}

int uvrun_loop_call_later(uvrun_loop_t *loop, double delay, uvrun_callback_fn cb, void *ud,
                          uvrun_handle_t **handle) {
  if (isnan(delay)) return uvr_fail(UVRUN_E_INVAL, "delay must be a number, not NaN");
  return uvrun_loop_call_at(loop, time_after(loop, delay), cb, ud, handle);
}

int uvr_timer_start(uvrun_loop_t *loop, uvr_timer *t, double delay) {
  int rc = check_loop(loop);
  if (rc < 0) return rc;
  if (heap_push(loop, t, seconds_to_ns(time_after(loop, delay))) < 0)
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  return 0;
}

/* ---- life cycle ---- */

static int loop_init(uvrun_loop_t *loop, uv_loop_t *borrowed) {
  int rc;
  uv_once(&atfork_once, install_atfork);
  uvr_alloc_lock();
  loop->refs = 1;
  loop->borrowed = borrowed != NULL;
  if ((rc = uvr_ts_init(loop)) < 0) return uvr_fail(rc, "loop setup failed: %s", uv_strerror(rc));
  if ((rc = uvr_uvbase_attach(loop, borrowed)) < 0) {
    uv_mutex_destroy(&loop->ts.mu);
    return rc;
  }
  loop->ts.wake = &loop->base->async;
  loop->debug = (uint8_t)debug_from_env();
  loop->slow_ns = DEFAULT_SLOW_NS;
  return 0;
}

static int loop_create(uv_loop_t *borrowed, uvrun_loop_t **out) {
  uvrun_loop_t *loop;
  int rc;
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "out must not be NULL");
  *out = NULL;
  loop = uvr_calloc(1, sizeof *loop);
  if (loop == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  rc = loop_init(loop, borrowed);
  if (rc < 0) {
    uvr_free(loop);
    return rc;
  }
  *out = loop;
  return 0;
}

int uvrun_loop_new(uvrun_loop_t **out) { return loop_create(NULL, out); }

int uvrun_loop_new_borrowed(uv_loop_t *uv, uvrun_loop_t **out) {
  if (uv == NULL) return uvr_fail(UVRUN_E_INVAL, "uv loop must not be NULL");
  return loop_create(uv, out);
}

uv_loop_t *uvrun_loop_get_uv(uvrun_loop_t *loop) { return loop != NULL ? loop->uv : NULL; }

uvrun_loop_t *uvr_loop_ref(uvrun_loop_t *loop) {
  loop->refs++;
  return loop;
}

void uvr_loop_unref(uvrun_loop_t *loop) {
  if (--loop->refs > 0) return;
  if (!loop->closed) uvrun_loop_close(loop);
  uv_mutex_destroy(&loop->ts.mu); /* other threads may lock it until now */
  uvr_free(loop);
}

void uvr_loop_describe(const uvrun_loop_t *loop, char *buf, size_t len) {
  snprintf(buf, len, "<uvrun loop running=%s closed=%s debug=%s>", loop->running ? "True" : "False",
           loop->closed ? "True" : "False", loop->debug ? "True" : "False");
}

static void discard_items(uvrun_loop_t *loop) {
  size_t i;
  while (loop->ready.count > 0) {
    uvr_item it = ring_pop(&loop->ready);
    it.run(loop, &it, 0);
  }
  uvr_ts_discard(loop);
  for (i = 0; i < loop->heap_n; i++) {
    loop->heap[i].t->in_heap = 0;
    timer_release(loop->heap[i].t);
  }
  loop->heap_n = loop->heap_cancelled = 0;
}

int uvrun_loop_close(uvrun_loop_t *loop) {
  char desc[128];
  if (loop == NULL) return uvr_fail(UVRUN_E_INVAL, "loop must not be NULL");
  if (loop->running) return uvr_fail(UVRUN_E_LOOP_RUNNING, "Cannot close a running event loop");
  if (loop->closed) return 0;
  if (loop->debug) {
    uvr_loop_describe(loop, desc, sizeof desc);
    uvr_logf(UVRUN_LOG_DEBUG, "Close %s", desc);
  }
  loop->closed = 1;
  uvr_ts_close(loop);
  loop->executor_shutdown_called = 1;
  uvr_executor_detach(loop);
  discard_items(loop);
  uvr_asyncgen_detach_all(loop);
  uvr_task_drop_all(loop);
  uvr_future_drop_all_held(loop);
  discard_items(loop); /* whatever dropping the tasks queued */
  uvr_task_cache_free(loop);
  uvrun_error_unref(loop->raised);
  loop->raised = NULL;

  uvr_uvbase_detach(loop);
  uvr_free(loop->ready.words);
  uvr_free(loop->heap);
  uvr_ts_free(loop);
  loop->ready.words = NULL;
  loop->heap = NULL;
  loop->ready.cap = loop->ready.nwords = loop->ready.count = loop->heap_cap = 0;
  return 0;
}

int uvrun_loop_free(uvrun_loop_t *loop) {
  if (loop == NULL) return 0;
  if (loop->running) return uvr_fail(UVRUN_E_LOOP_RUNNING, "Cannot close a running event loop");
  uvrun_loop_close(loop);
  uvr_loop_unref(loop);
  return 0;
}

int uvrun_loop_is_closed(const uvrun_loop_t *loop) { return loop == NULL || loop->closed; }
int uvrun_loop_is_running(const uvrun_loop_t *loop) { return loop != NULL && loop->running; }

double uvrun_loop_time(const uvrun_loop_t *loop) {
  (void)loop;
  return (double)uv_hrtime() / 1e9;
}

int uvrun_loop_stats(const uvrun_loop_t *loop, uvrun_loop_stats_t *stats) {
  uvrun_loop_stats_t all;
  if (loop == NULL || stats == NULL) return uvr_fail(UVRUN_E_INVAL, "loop and stats must not be NULL");
  if (stats->size < sizeof stats->size) return uvr_fail(UVRUN_E_INVAL, "stats->size must be set");
  all.size = stats->size < sizeof all ? stats->size : (uint32_t)sizeof all;
  all.tasks = loop->ntasks;
  all.ready = loop->ready.count;
  all.timers = loop->heap_n;
  all.cached_tasks = loop->ncached;
  memcpy(stats, &all, all.size);
  return 0;
}

int uvrun_loop_get_debug(const uvrun_loop_t *loop) { return loop != NULL && loop->debug; }
void uvrun_loop_set_debug(uvrun_loop_t *loop, int enabled) {
  if (loop != NULL) loop->debug = enabled != 0;
}
void uvrun_loop_set_slow_callback_duration(uvrun_loop_t *loop, double seconds) {
  if (loop != NULL && seconds >= 0) loop->slow_ns = seconds_to_ns(seconds);
}

void uvrun_loop_stop(uvrun_loop_t *loop) {
  if (loop != NULL) loop->stopping = 1;
}

void uvr_loop_raise(uvrun_loop_t *loop, uvrun_error_t *err) {
  if (loop->raised == NULL) {
    loop->raised = err;
  } else {
    uvrun_error_unref(err);
  }
}

/* ---- running ---- */

static void describe_item(const uvr_item *it, char *buf, size_t len);

/* Debug mode (R22): time one item, log it if slow. */
static void run_item_timed(uvrun_loop_t *loop, uvr_item *it) {
  char desc[256];
  uint64_t t0 = uv_hrtime(), dt;
  describe_item(it, desc, sizeof desc); /* before: the item may free itself */
  it->run(loop, it, 1);
  dt = uv_hrtime() - t0;
  if (dt >= loop->slow_ns) uvr_logf(UVRUN_LOG_WARNING, "Executing %s took %.3f seconds", desc, (double)dt / 1e9);
}

/* With nothing to run while executor jobs are out, polls briefly for their
 * completions before sleeping in epoll: a short job's result then arrives
 * without an eventfd wake-up. 1 if something arrived. */
static int spin_for_threadsafe(uvrun_loop_t *loop) {
  uint64_t until;
  if (!uvr_executor_busy(loop)) return 0;
  until = uv_hrtime() + UVR_SPIN_NS;
  if (loop->heap_n > 0 && loop->heap[0].when < until) until = loop->heap[0].when;
  while (!atomic_load_explicit(&loop->ts.pending, memory_order_acquire)) {
    if (uv_hrtime() >= until) return 0;
    uvr_cpu_relax();
  }
  return 1;
}

/* Waits for I/O or the next timer when there is nothing to run, else polls
 * now and then; then queues due timers and runs one snapshot of the ready
 * queue (R35). */
static void run_once(uvrun_loop_t *loop) {
  size_t n;
  uint64_t now;
  if (atomic_load_explicit(&loop->ts.pending, memory_order_acquire)) uvr_ts_drain(loop);
  while (loop->heap_n > 0 && loop->heap[0].t->cancelled) timer_release(heap_pop(loop));
  if (loop->heap_cancelled > 64 && loop->heap_cancelled * 2 > loop->heap_n) heap_compact(loop);

  if (loop->ready.count == 0 && !loop->stopping && spin_for_threadsafe(loop)) {
    uv_run(loop->uv, UV_RUN_NOWAIT); /* work arrived: no need to sleep */
    loop->skip_polls = 0;
  } else if (loop->ready.count == 0 && !loop->stopping) {
    /* Sleep until the next timer, or the next step of the task cache's
     * decay: a loop that sleeps long still gives memory back. The empty
     * queue starts over at its first word: a burst after the sleep (100k
     * timers due at once) reuses the words the last one touched rather
     * than wrapping on into words never touched, which become resident. */
    uint64_t wake = uvr_task_cache_decay(loop, now = uv_hrtime());
    loop->ready.head = 0;
    if (loop->heap_n > 0 && loop->heap[0].when < wake) wake = loop->heap[0].when;
    if (wake == UINT64_MAX) {
      uvr_uvbase_wait(loop, 0);
    } else if (wake > now) {
      uvr_uvbase_wait(loop, (wake - now + 999999) / 1000000);
    } else {
      uv_run(loop->uv, UV_RUN_NOWAIT);
    }
    loop->skip_polls = 0;
  } else if (++loop->skip_polls >= POLL_INTERVAL) {
    uv_run(loop->uv, UV_RUN_NOWAIT);
    uvr_task_cache_decay(loop, uv_hrtime());
    loop->skip_polls = 0;
  }
  if (atomic_load_explicit(&loop->ts.pending, memory_order_acquire)) uvr_ts_drain(loop);

  if (loop->heap_n > 0) {
    now = uv_hrtime();
    while (loop->heap_n > 0 && loop->heap[0].when <= now) {
      uvr_timer *t = heap_pop(loop);
      /* a: the handle, the sleep's timer or the sleeping task; the item
       * carries the heap's reference */
      uvr_item it = {run_timer, {NULL}, t, NULL, {NULL}, NULL};
      if (t->kind == UVR_TIMER_SLEEP) {
        it.run = uvr_sleep_fire;
      } else if (t->kind == UVR_TIMER_TASK) {
        it.run = uvr_task_run_step;
        it.a = UVR_TASK_OF_TIMER(t);
      }
      if (t->cancelled) {
        timer_release(t);
      } else if (uvr_loop_push(loop, &it) < 0) {
        timer_release(t);
        uvr_loop_lost(loop);
      }
    }
  }
  if (UVR_UNLIKELY(atomic_load_explicit(&loop->ts.lost, memory_order_acquire)) &&
      atomic_exchange(&loop->ts.lost, 0))
    uvr_loop_raise(loop, uvr_error_make(UVRUN_E_NOMEM, "out of memory: a queued callback was dropped"));

  for (n = loop->ready.count;; n--) {
    uvr_item it;
    /* A Ctrl-C is acted on before the next step runs (R41, R44). */
    if (UVR_UNLIKELY(atomic_load_explicit(&uvr_sigint_pending, memory_order_relaxed))) uvr_signal_dispatch(loop);
    if (n == 0 || loop->raised != NULL) break;
    it = ring_pop(&loop->ready);
    if (UVR_UNLIKELY(loop->debug)) {
      run_item_timed(loop, &it);
    } else {
      it.run(loop, &it, 1);
    }
  }
}

int uvr_loop_check_runnable(const uvrun_loop_t *loop) {
  if (loop->closed) return uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
  if (loop->running) return uvr_fail(UVRUN_E_LOOP_ALREADY_RUNNING, "This event loop is already running");
  if (uvr_running_loop != NULL)
    return uvr_fail(UVRUN_E_OTHER_LOOP_RUNNING, "Cannot run the event loop while another loop is running");
  return 0;
}

int uvr_loop_run_forever(uvrun_loop_t *loop) {
  uvrun_error_t *raised;
  int rc = uvr_loop_check_runnable(loop);
  if (rc < 0) return rc;
  loop->running = 1;
  loop->thread = uv_thread_self();
  uvr_running_loop = loop;
  uv_ref((uv_handle_t *)&loop->base->async);
  for (;;) {
    run_once(loop);
    if (loop->stopping || loop->raised != NULL) break;
  }
  uv_unref((uv_handle_t *)&loop->base->async);
  uvr_running_loop = NULL;
  loop->stopping = 0;
  loop->running = 0;
  raised = loop->raised;
  loop->raised = NULL;
  if (raised != NULL) return uvr_fail_error(raised);
  return 0;
}

static void stop_on_done(uvrun_future_t *fut, void *ud) {
  /* An interrupt or exit already unwound the loop (R35): do not stop a
   * later run by mistake. */
  if (fut->state == UVR_ERROR &&
      (fut->error->code == UVRUN_E_INTERRUPTED || fut->error->code == UVRUN_E_EXIT))
    return;
  uvrun_loop_stop(ud);
}

int uvrun_loop_run_until_complete(uvrun_loop_t *loop, uvrun_future_t *fut, void **result) {
  int rc;
  if (result != NULL) *result = NULL;
  if (loop == NULL || fut == NULL) return uvr_fail(UVRUN_E_INVAL, "loop and future must not be NULL");
  if ((rc = uvr_loop_check_runnable(loop)) < 0) return rc;
  if (fut->loop != loop)
    return uvr_fail(UVRUN_E_INVAL,
                    "The future belongs to a different loop than the one specified as the loop argument");
  uvrun_future_ref(fut);
  rc = uvrun_future_add_done_callback(fut, stop_on_done, loop);
  if (rc == 0) rc = uvr_loop_run_forever(loop);
  uvrun_future_remove_done_callback(fut, stop_on_done, loop);
  if (rc == 0 && !uvrun_future_done(fut))
    rc = uvr_fail(UVRUN_E_LOOP_STOPPED, "Event loop stopped before Future completed.");
  if (rc == 0) {
    rc = uvrun_future_result(fut, result);
    if (rc < 0) uvr_fail_error(uvrun_error_ref(uvrun_future_error(fut)));
  }
  uvrun_future_unref(fut);
  return rc;
}

uvrun_loop_t *uvrun_get_running_loop(void) { return uvr_running_loop; }
uvrun_loop_t *uvrun_get_current_loop(void) { return uvr_current_loop; }

/* ---- reports ---- */

void uvrun_loop_set_exception_handler(uvrun_loop_t *loop, uvrun_exception_handler_fn fn, void *ud) {
  if (loop == NULL) return;
  loop->eh = fn;
  loop->eh_ud = ud;
}

static void describe_item(const uvr_item *it, char *buf, size_t len) {
  const uvrun_task_t *task = uvr_item_task(it);
  if (task != NULL) {
    uvr_task_describe(task, buf, len);
  } else if (it->run == uvr_sleep_fire) {
    snprintf(buf, len, "<Handle cb=sleep ud=%p>", it->a);
  } else if (it->run == run_timer) {
    const uvrun_handle_t *h = it->a;
    snprintf(buf, len, "<Handle cb=%p ud=%p>", (void *)(uintptr_t)h->cb, h->ud);
  } else {
    snprintf(buf, len, "<Handle cb=%p ud=%p>", (void *)(uintptr_t)it->fn.cb, it->a);
  }
}

void uvrun_loop_default_exception_handler(uvrun_loop_t *loop, const uvrun_exception_context_t *c) {
  char out[2048], desc[512];
  size_t n;
  (void)loop;
  if (c == NULL) return;
  n = (size_t)snprintf(out, sizeof out, "%s",
                       c->message && *c->message ? c->message : "Unhandled exception in event loop");
  /* Keys in sorted order, as asyncio prints them (R65). */
  if (c->asyncgen != NULL && n < sizeof out)
    n += (size_t)snprintf(out + n, sizeof out - n, "\nasyncgen: <async_generator %s>",
                          uvrun_asyncgen_name(c->asyncgen));
  if (c->future != NULL && n < sizeof out) {
    uvr_future_describe(c->future, desc, sizeof desc);
    n += (size_t)snprintf(out + n, sizeof out - n, "\nfuture: %s", desc);
  }
  if (c->source != NULL && n < sizeof out)
    n += (size_t)snprintf(out + n, sizeof out - n, "\nObject created at %s", c->source);
  if (c->task != NULL && n < sizeof out) {
    uvr_task_describe(c->task, desc, sizeof desc);
    n += (size_t)snprintf(out + n, sizeof out - n, "\ntask: %s", desc);
  }
  if (c->error != NULL && n < sizeof out)
    snprintf(out + n, sizeof out - n, "\n%s: %s", uvrun_err_name(c->error->code), c->error->message);
  uvrun_log(UVRUN_LOG_ERROR, out);
}

void uvrun_loop_call_exception_handler(uvrun_loop_t *loop, const uvrun_exception_context_t *ctx) {
  if (loop == NULL || ctx == NULL) return;
  if (loop->eh == NULL) {
    uvrun_loop_default_exception_handler(loop, ctx);
  } else if (ctx->task != NULL) {
    /* R32: a custom handler runs in (a copy of) the task's context. */
    uvrun_context_t scope;
    uvr_scope_enter(&scope, uvr_task_ctx(ctx->task)->map);
    loop->eh(loop, ctx, loop->eh_ud);
    uvr_scope_exit(&scope);
  } else {
    loop->eh(loop, ctx, loop->eh_ud);
  }
}

void uvr_report(uvrun_loop_t *loop, const char *message, uvrun_error_t *err, uvrun_task_t *task,
                uvrun_future_t *fut, const char *source) {
  uvrun_exception_context_t c;
  memset(&c, 0, sizeof c);
  c.size = sizeof c;
  c.message = message;
  c.error = err;
  c.task = task;
  c.future = fut;
  c.source = loop->debug ? source : NULL;
  uvrun_loop_call_exception_handler(loop, &c);
}
