/* loop.c -- the event loop: its life cycle, call_soon, and run_once, which
 * turns a loop once through its phases: take what other threads posted,
 * wait for I/O or the next timer when there is nothing to run, queue the
 * due timers, then run one snapshot of the ready queue (R35).
 *
 * No user code runs inside a libuv callback: libuv callbacks only wake the
 * loop or queue items, and items run from run_once(). The layers above
 * (tasks, sleeps, the executor, async generators) are reached only through
 * uvr_hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include "loop.h"

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
  uvr_hooks.forked_child();
}
static uv_once_t atfork_once = UV_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(NULL, NULL, clear_tls_in_child); }

/* ---- call_soon ---- */

void uvr_run_callback(uvrun_loop_t *loop, uvr_item *it, int run) {
  (void)loop;
  if (run && !(it->x.handle != NULL && it->x.handle->timer.cancelled)) uvr_call_in_map(it->ctx, it->fn.cb, it->a);
  uvrun_handle_unref(it->x.handle);
  uvr_map_unref(it->ctx);
}

int uvr_loop_on_wrong_thread(const uvrun_loop_t *loop) {
  return loop->debug && loop->running && !uv_thread_equal(&loop->thread, &(uv_thread_t){uv_thread_self()});
}

int uvr_loop_check(uvrun_loop_t *loop) {
  if (loop->closed) return uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
  if (uvr_loop_on_wrong_thread(loop))
    return uvr_fail(UVRUN_E_WRONG_THREAD,
                    "Non-thread-safe operation invoked on an event loop other than the current one");
  return 0;
}

int uvr_loop_check_call(uvrun_loop_t *loop, uvrun_callback_fn cb, const char *what) {
  if (loop == NULL || cb == NULL) return uvr_fail(UVRUN_E_INVAL, "a callable object was expected by %s()", what);
  return uvr_loop_check(loop);
}

int uvrun_loop_call_soon(uvrun_loop_t *loop, uvrun_callback_fn cb, void *ud, uvrun_handle_t **handle) {
  uvrun_handle_t *h = NULL;
  uvr_item it = {uvr_run_callback, {cb}, ud, NULL, {NULL}, NULL};
  int rc = uvr_loop_check_call(loop, cb, "call_soon");
  if (rc < 0) return rc;
  if (handle != NULL && (h = uvr_handle_new(loop, cb, ud, 2)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
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

/* ---- life cycle ---- */

static int loop_init(uvrun_loop_t *loop, uv_loop_t *borrowed) {
  int rc;
  uv_once(&atfork_once, install_atfork);
  uvr_alloc_lock();
  loop->refs = 1;
  loop->borrowed = borrowed != NULL;
  if ((rc = uvr_ts_init(loop)) < 0) return uvr_fail(rc, "loop setup failed: %s", uv_strerror(rc));
  if ((rc = uvr_backend_attach(loop, borrowed)) < 0) {
    uv_mutex_destroy(&loop->ts.mu);
    return rc;
  }
  loop->ts.wake = &loop->backend->async;
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

/* Releases, unrun, every item queued and every timer. */
static void discard_items(uvrun_loop_t *loop) {
  while (loop->ready.count > 0) {
    uvr_item it = uvr_ready_pop(&loop->ready, uvr_hooks.step);
    it.run(loop, &it, 0);
  }
  uvr_ts_discard(loop);
  uvr_timers_discard(loop);
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
  uvr_hooks.close_detach(loop);
  discard_items(loop);
  uvr_hooks.close_drop(loop);
  discard_items(loop); /* whatever letting go queued */
  uvr_hooks.close_free(loop);
  uvrun_error_unref(loop->raised);
  loop->raised = NULL;

  uvr_backend_detach(loop);
  uvr_ready_free(&loop->ready);
  uvr_timers_free(loop);
  uvr_ts_free(loop);
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
  if (loop != NULL && seconds >= 0) loop->slow_ns = uvr_seconds_to_ns(seconds);
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

/* ---- the phases of run_once ---- */

/* Moves what other threads posted onto the ready queue. */
static void take_threadsafe(uvrun_loop_t *loop) {
  if (atomic_load_explicit(&loop->ts.pending, memory_order_acquire)) uvr_ts_drain(loop);
}

/* Timers cancelled since they were queued leave the heap. */
static void prune_timers(uvrun_loop_t *loop) {
  if (loop->heap_n > 0) uvr_timers_prune(loop);
}

/* With nothing to run while work is out on other threads (executor jobs),
 * polls briefly for its completion before sleeping in epoll: a short job's
 * result then arrives without an eventfd wake-up. 1 if something arrived. */
static int spin_for_threadsafe(uvrun_loop_t *loop) {
  uint64_t until, next;
  if (!uvr_hooks.busy(loop)) return 0;
  until = uv_hrtime() + UVR_SPIN_NS;
  if ((next = uvr_timers_next(loop)) < until) until = next;
  while (!atomic_load_explicit(&loop->ts.pending, memory_order_acquire)) {
    if (uv_hrtime() >= until) return 0;
    uvr_cpu_relax();
  }
  return 1;
}

/* Gives back memory kept for reuse: the layers' (uvr_hooks.idle) and the
 * ready queue's. Returns when it wants to run next (UINT64_MAX: no need). */
static uint64_t housekeep(uvrun_loop_t *loop, uint64_t now) {
  uint64_t layers = uvr_hooks.idle(loop, now), ready = uvr_ready_decay(&loop->ready, now);
  return layers < ready ? layers : ready;
}

/* Nothing to run: sleeps in libuv until I/O, the next timer or the next
 * housekeeping (a loop that sleeps long still gives memory back). */
static void sleep_for_events(uvrun_loop_t *loop) {
  uint64_t now = uv_hrtime(), wake = housekeep(loop, now), next = uvr_timers_next(loop);
  uvr_ready_rewind(&loop->ready);
  if (next < wake) wake = next;
  if (wake == UINT64_MAX) {
    uvr_backend_wait(loop, 0);
  } else if (wake > now) {
    uvr_backend_wait(loop, (wake - now + 999999) / 1000000);
  } else {
    uv_run(loop->uv, UV_RUN_NOWAIT);
  }
}

/* Waits for events when there is nothing to run, else polls for I/O now
 * and then. */
static void poll_io(uvrun_loop_t *loop) {
  if (loop->ready.count == 0 && !loop->stopping && spin_for_threadsafe(loop)) {
    uv_run(loop->uv, UV_RUN_NOWAIT); /* work arrived: no need to sleep */
  } else if (loop->ready.count == 0 && !loop->stopping) {
    sleep_for_events(loop);
  } else if (++loop->skip_polls >= POLL_INTERVAL) {
    uv_run(loop->uv, UV_RUN_NOWAIT);
    housekeep(loop, uv_hrtime());
  } else {
    return;
  }
  loop->skip_polls = 0;
}

/* Queues the timers now due. */
static void queue_due_timers(uvrun_loop_t *loop) {
  if (loop->heap_n > 0) uvr_timers_queue_due(loop, uv_hrtime());
}

/* An item lost for lack of memory fails the run rather than leaving it
 * waiting for the item forever. */
static void check_lost(uvrun_loop_t *loop) {
  if (UVR_UNLIKELY(atomic_load_explicit(&loop->ts.lost, memory_order_acquire)) && atomic_exchange(&loop->ts.lost, 0))
    uvr_loop_raise(loop, uvr_error_make(UVRUN_E_NOMEM, "out of memory: a queued callback was dropped"));
}

static void describe_item(const uvr_item *it, char *buf, size_t len) {
  if (uvr_hooks.describe_item(it, buf, len) || uvr_timers_describe_item(it, buf, len)) return;
  snprintf(buf, len, "<Handle cb=%p ud=%p>", (void *)(uintptr_t)it->fn.cb, it->a);
}

/* Debug mode (R22): time one item, log it if slow. */
static void run_item_timed(uvrun_loop_t *loop, uvr_item *it) {
  char desc[256];
  uint64_t t0 = uv_hrtime(), dt;
  describe_item(it, desc, sizeof desc); /* before: the item may free itself */
  it->run(loop, it, 1);
  dt = uv_hrtime() - t0;
  if (dt >= loop->slow_ns) uvr_logf(UVRUN_LOG_WARNING, "Executing %s took %.3f seconds", desc, (double)dt / 1e9);
}

/* Runs the items queued now, not those they queue (R35), until one raises. */
static void run_ready(uvrun_loop_t *loop) {
  size_t n;
  for (n = loop->ready.count;; n--) {
    uvr_item it;
    /* A Ctrl-C is acted on before the next step runs (R41, R44). */
    if (UVR_UNLIKELY(atomic_load_explicit(&uvr_sigint_pending, memory_order_relaxed))) uvr_signal_dispatch(loop);
    if (n == 0 || loop->raised != NULL) break;
    it = uvr_ready_pop(&loop->ready, uvr_hooks.step);
    if (UVR_UNLIKELY(loop->debug)) {
      run_item_timed(loop, &it);
    } else {
      it.run(loop, &it, 1);
    }
  }
}

static void run_once(uvrun_loop_t *loop) {
  take_threadsafe(loop);
  prune_timers(loop);
  poll_io(loop);
  take_threadsafe(loop);
  queue_due_timers(loop);
  check_lost(loop);
  run_ready(loop);
}

/* ---- running ---- */

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
  uv_ref((uv_handle_t *)&loop->backend->async);
  for (;;) {
    run_once(loop);
    if (loop->stopping || loop->raised != NULL) break;
  }
  uv_unref((uv_handle_t *)&loop->backend->async);
  uvr_running_loop = NULL;
  loop->stopping = 0;
  loop->running = 0;
  raised = loop->raised;
  loop->raised = NULL;
  if (raised != NULL) return uvr_fail_error(raised);
  return 0;
}

uvrun_loop_t *uvrun_get_running_loop(void) { return uvr_running_loop; }
uvrun_loop_t *uvrun_get_current_loop(void) { return uvr_current_loop; }
