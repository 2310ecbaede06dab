/* backend.c -- the libuv side of a uvrun loop: a uv_loop_t and uvrun's four
 * handles on it.
 *
 * Making one costs an epoll instance, an eventfd and a signal pipe; making
 * and closing one is most of a fresh asyncio-style run(). So when a loop
 * closes clean, its backend is parked, and the next uvrun_loop_new() (in any
 * thread) takes it instead of making one: run() called in a loop, or by an
 * FFI host per request, pays for the syscalls once. At most POOL_SIZE backends
 * wait; uvrun_release_memory() closes them. */
#include <pthread.h>

#include "loop.h"

#define POOL_SIZE 2

static _Atomic(uvr_backend *) parked[POOL_SIZE];

/* A backend parked before a fork shares its epoll instance with the parent;
 * the child must give it kernel objects of its own (uv_loop_fork) before
 * touching it, even to close it. */
static atomic_uint fork_gen;
static void count_fork(void) { atomic_fetch_add(&fork_gen, 1); }
static uv_once_t backend_atfork_once = UV_ONCE_INIT;
static void install_backend_atfork(void) { pthread_atfork(NULL, NULL, count_fork); }

static void on_async(uv_async_t *async) { (void)async; /* drained in run_once */ }

/* libuv's UV_RUN_ONCE runs due timers *before* it polls. uv_stop() makes
 * the poll that follows non-blocking (uv_run clears the flag when it
 * returns) in two cases. The wake timer is already due there (the thread was
 * preempted past its 1 ms): the poll would have no timer left and block
 * until some other event -- forever, for a task sleeping alone. */
static void on_wake(uv_timer_t *timer) { uv_stop(timer->loop); }

/* Or a callback of the caller's queued work for the loop: a due timer, or
 * a prepare handle started after this one (libuv runs the last started
 * first). This one is started once, with the backend, and has a loop to look
 * at (data) only while uvrun waits: a host's own uv_run on a borrowed loop
 * goes undisturbed. */
static void on_prepare(uv_prepare_t *prepare) {
  uvrun_loop_t *loop = prepare->data;
  if (loop != NULL && loop->ready.count > 0) uv_stop(prepare->loop);
}

void uvr_backend_wait(uvrun_loop_t *loop, uint64_t timeout_ms) {
  uvr_backend *b = loop->backend;
  if (timeout_ms > 0) {
    uv_update_time(loop->uv);
    uv_timer_start(&b->wake_timer, on_wake, timeout_ms, 0);
  }
  b->prepare.data = loop;
  uv_run(loop->uv, UV_RUN_ONCE);
  b->prepare.data = NULL;
  if (timeout_ms > 0) uv_timer_stop(&b->wake_timer);
}

static int own_backend_fork(uvr_backend *b) {
  int rc = 0;
  if (b->fork_gen != atomic_load(&fork_gen)) {
    rc = uv_loop_fork(&b->uv);
    if (rc < 0) uvr_logf(UVRUN_LOG_ERROR, "uv_loop_fork: %s", uv_strerror(rc));
    b->fork_gen = atomic_load(&fork_gen);
    /* A wake-up sent before the fork and never consumed leaves its handle
     * marked pending; uv_loop_fork gives it a new, empty eventfd but keeps
     * the mark (libuv 1.44), and uv_async_send skips a pending handle: the
     * child's loop would never wake. The child has one thread: clear it. */
    b->async.pending = 0;
    b->sig_async.pending = 0;
  }
  return rc;
}

/* Closes the handles, then the uv loop when it is the backend's own. */
static void backend_close(uvr_backend *b, uv_loop_t *uv) {
  int rc;
  uv_close((uv_handle_t *)&b->wake_timer, NULL);
  uv_close((uv_handle_t *)&b->async, NULL);
  uv_close((uv_handle_t *)&b->sig_async, NULL);
  uv_close((uv_handle_t *)&b->prepare, NULL);
  uv_run(uv, UV_RUN_DEFAULT);
  if (uv == &b->uv && (rc = uv_loop_close(uv)) < 0) uvr_logf(UVRUN_LOG_ERROR, "uv_loop_close: %s", uv_strerror(rc));
  uvr_free(b);
}

static uvr_backend *backend_new(uv_loop_t *borrowed) {
  uvr_backend *b = uvr_malloc(sizeof *b);
  uv_loop_t *uv;
  int rc;
  if (b == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  uv = borrowed != NULL ? borrowed : &b->uv;
  if (borrowed == NULL && (rc = uv_loop_init(uv)) < 0) {
    uvr_free(b);
    uvr_fail(rc, "uv_loop_init: %s", uv_strerror(rc));
    return NULL;
  }
  b->fork_gen = atomic_load(&fork_gen);
  uv_timer_init(uv, &b->wake_timer);
  uv_prepare_init(uv, &b->prepare);
  b->prepare.data = NULL;
  uv_prepare_start(&b->prepare, on_prepare);
  uv_unref((uv_handle_t *)&b->prepare);
  if ((rc = uv_async_init(uv, &b->async, on_async)) < 0) goto fail_timer;
  if ((rc = uv_async_init(uv, &b->sig_async, uvr_signal_on_async)) < 0) goto fail_async;
  /* Referenced only while running (uvr_loop_run). */
  uv_unref((uv_handle_t *)&b->async);
  uv_unref((uv_handle_t *)&b->sig_async);
  return b;

fail_async:
  uv_close((uv_handle_t *)&b->async, NULL);
fail_timer:
  uv_close((uv_handle_t *)&b->wake_timer, NULL);
  uv_close((uv_handle_t *)&b->prepare, NULL);
  uv_run(uv, UV_RUN_NOWAIT);
  if (borrowed == NULL) uv_loop_close(uv);
  uvr_free(b);
  uvr_fail(rc, "loop setup failed: %s", uv_strerror(rc));
  return NULL;
}

static uvr_backend *unpark(void) {
  size_t i;
  for (i = 0; i < POOL_SIZE; i++) {
    uvr_backend *b = atomic_exchange(&parked[i], NULL);
    if (b == NULL) continue;
    if (own_backend_fork(b) == 0) return b;
    backend_close(b, &b->uv);
  }
  return NULL;
}

static int park(uvr_backend *b) {
  size_t i;
  for (i = 0; i < POOL_SIZE; i++) {
    uvr_backend *expected = NULL;
    if (atomic_compare_exchange_strong(&parked[i], &expected, b)) return 1;
  }
  return 0;
}

int uvr_backend_attach(uvrun_loop_t *loop, uv_loop_t *borrowed) {
  uvr_backend *b = NULL;
  uv_once(&backend_atfork_once, install_backend_atfork);
  if (borrowed == NULL) b = unpark();
  if (b == NULL) b = backend_new(borrowed);
  if (b == NULL) return uvr_last_code();
  b->sig_async.data = loop;
  loop->backend = b;
  loop->uv = borrowed != NULL ? borrowed : &b->uv;
  return 0;
}

static void report_foreign_handle(uv_handle_t *h, void *arg) {
  uvr_backend *b = arg;
  if (h == (uv_handle_t *)&b->wake_timer || h == (uv_handle_t *)&b->async || h == (uv_handle_t *)&b->sig_async ||
      h == (uv_handle_t *)&b->prepare || uv_is_closing(h))
    return;
  /* R27: reported whether or not debug mode is on. */
  uvr_logf(UVRUN_LOG_WARNING, "unclosed handle <%s %p> closed by uvrun_loop_close()",
           uv_handle_type_name(uv_handle_get_type(h)), (void *)h);
  uv_close(h, NULL);
}

void uvr_backend_detach(uvrun_loop_t *loop) {
  uvr_backend *b = loop->backend;
  uv_loop_t *uv = loop->uv;
  loop->backend = NULL;
  loop->uv = NULL;
  if (uv != &b->uv) { /* borrowed: only uvrun's handles are ours to close */
    backend_close(b, uv);
    return;
  }
  uv_walk(uv, report_foreign_handle, b);
  uv_run(uv, UV_RUN_DEFAULT); /* the closes above, requests in flight */
  b->sig_async.data = NULL;
  /* Parked only when nothing of the caller's is left on it. */
  if (uv_loop_alive(uv) || !park(b)) backend_close(b, uv);
}

int uvrun_release_memory(void) {
  int n = 0;
  size_t i;
  for (i = 0; i < POOL_SIZE; i++) {
    uvr_backend *b = atomic_exchange(&parked[i], NULL);
    if (b == NULL) continue;
    own_backend_fork(b);
    backend_close(b, &b->uv);
    n++;
  }
  return n;
}
