/* executor.c -- the loop's own thread pool (D8, R58-R61, X3, X7).
 *
 * libuv's work pool is process-wide and cannot be shut down per loop (R60),
 * so each loop gets a pool like Python's ThreadPoolExecutor: workers start
 * lazily, take jobs from a FIFO queue and live until shutdown, which lets the
 * queued jobs run first (R59).
 *
 * Ownership. The pool state is shared by the loop and by every worker, and
 * freed by whichever lets go last (atomic refs). It holds the loop as a raw
 * pointer, never a reference: a pool must not keep its loop alive. Workers
 * read that pointer only under the mutex, and uvr_executor_detach() clears
 * it there, so after the loop closes no worker touches it.
 *
 * A job's future belongs to the loop thread: workers never touch it. Who
 * frees a job:
 *  - once posted to the loop (uvr_loop_push_threadsafe), the item does, when
 *    it runs or is discarded. Loop close detaches us first and discards the
 *    items after, when the pool may be gone: detach marks every job it let go
 *    of (fut = NULL), and such an item frees its job without touching the pool.
 *  - a job whose completion could not be posted (the loop closed, or no
 *    memory) is an orphan: the pool keeps it and frees it with itself, since
 *    detach may still be walking the job list when the worker finds out. */
#include <string.h>

#include <pthread.h>
#include <signal.h>

#include "internal.h"

#if UV_VERSION_HEX < 0x012c00
#  include <unistd.h> /* sysconf(): uv_available_parallelism() is 1.44+ */
#endif

typedef struct uvr_job uvr_job;
struct uvr_job {
  uvr_job *qnext;       /* queue or orphan list link, under mu */
  uvr_job *prev, *next; /* pool->jobs, loop thread only */
  uvrun_work_fn fn;
  void *ud;
  uvr_map *ctx; /* the submitter's context (X7) */
  uvr_executor *pool;
  uvrun_future_t *fut;   /* reference, loop thread only; NULL once detached */
  uint8_t io;            /* cancelled at runner close while queued (L1) */
  uint8_t cancel_queued; /* loop thread, under mu: io and still queued */
  /* Written by the worker before the completion is posted. */
  void *result;
  uvrun_error_t *err; /* NULL on success */
};

struct uvr_executor {
  atomic_int refs; /* the loop's, and one per worker alive */
  uv_mutex_t mu;
  uv_cond_t cond;
  /* Under mu. */
  uvrun_loop_t *loop;   /* NULL once detached */
  uvr_job *head, *tail; /* queued jobs */
  uvr_job *orphans;     /* finished, never posted: freed with the pool */
  size_t nqueued, nrunning;
  int waiting;          /* workers blocked on cond */
  int spinning;         /* idle workers polling `queued` before they block */
  atomic_size_t queued; /* nqueued, readable without mu */
  int nalive;           /* workers that have not exited */
  int stopping;         /* workers exit once the queue is empty */
  int notify_exit;      /* the last worker out posts workers_exited_cb */
  /* Loop thread only. */
  uvr_job *jobs; /* jobs not completed on the loop, until detach */
  uv_thread_t *threads;
  int nthreads, max_threads;
  int threads_released;   /* joined or detached */
  uvrun_future_t *exited; /* once shutdown began: done when every worker has exited */
};

static void job_free(uvr_job *job) {
  uvr_map_unref(job->ctx);
  uvrun_error_unref(job->err);
  uvr_free(job);
}

static void executor_unref(uvr_executor *s) {
  uvr_job *job;
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  /* Their futures were released by uvr_executor_detach(). */
  while ((job = s->orphans) != NULL) {
    s->orphans = job->qnext;
    job_free(job);
  }
  uv_cond_destroy(&s->cond);
  uv_mutex_destroy(&s->mu);
  uvr_free(s->threads);
  uvr_free(s);
}

/* Python's ThreadPoolExecutor default: min(32, cores + 4). */
static int default_max_workers(void) {
  long cores;
#if UV_VERSION_HEX >= 0x012c00
  cores = (long)uv_available_parallelism();
#else
  cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
#endif
  return cores + 4 < 32 ? (int)cores + 4 : 32;
}

static int executor_new(uvrun_loop_t *loop, uvr_executor **out) {
  uvr_executor *s;
  int rc;

  s = uvr_calloc(1, sizeof *s);
  if (s == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  s->max_threads = loop->executor_max_workers > 0 ? loop->executor_max_workers : default_max_workers();
  s->threads = uvr_calloc((size_t)s->max_threads, sizeof *s->threads);
  if (s->threads == NULL) {
    rc = uvr_fail(UVRUN_E_NOMEM, "out of memory");
    goto fail_threads;
  }
  rc = uv_mutex_init(&s->mu);
  if (rc < 0) goto fail_mutex;
  rc = uv_cond_init(&s->cond);
  if (rc < 0) goto fail_cond;
  atomic_init(&s->refs, 1);
  s->loop = loop;
  *out = s;
  return 0;

fail_cond:
  uv_mutex_destroy(&s->mu);
fail_mutex:
  rc = uvr_fail(rc, "cannot create the executor: %s", uv_strerror(rc));
fail_threads:
  uvr_free(s->threads);
  uvr_free(s);
  return rc;
}

/* ---- workers ---- */

/* Runs on the worker, inside a copy of the submitter's context (X7). */
static void job_run(uvr_job *job) {
  uvrun_context_t scope;
  char buf[128];
  int rc;

  /* Forget an earlier job's failure: its message must not be taken for
   * this job's when the codes happen to match. */
  uvr_fail(0, "%s", "");
  uvr_scope_enter(&scope, job->ctx);
  rc = job->fn(job->ud, &job->result);
  uvr_scope_exit(&scope);
  if (rc >= 0) return;

  /* The job's own error object when it recorded one (it may carry a host
   * language's payload), else the code's text: uvrun's own table, or libuv's
   * for the errno codes uvrun does not name. */
  if (uvr_last_code() == rc) job->err = uvrun_take_error();
  if (job->err != NULL) return;
  if (strcmp(uvrun_err_name(rc), "UVRUN_E_UNKNOWN") == 0)
    job->err = uvr_error_make(rc, uv_strerror_r(rc, buf, sizeof buf));
  else job->err = uvr_error_make(rc, uvrun_strerror(rc));
}

static void job_done_cb(uvrun_loop_t *loop, uvr_item *item, int run);
static void workers_exited_cb(uvrun_loop_t *loop, uvr_item *item, int run);

/* Must be called with s->mu held: that is what keeps s->loop alive. */
static void job_post(uvr_executor *s, uvr_job *job) {
  int rc = UVRUN_E_LOOP_CLOSED;

  if (s->loop != NULL) rc = uvr_loop_push_threadsafe(s->loop, job_done_cb, job);
  if (rc == 0) return;
  if (rc != UVRUN_E_LOOP_CLOSED) {
    uvr_logf(UVRUN_LOG_ERROR, "executor: a job's result was lost: %s", uvrun_strerror(rc));
    uvr_loop_lost(s->loop);
  }
  job->qnext = s->orphans;
  s->orphans = job;
}

/* Jobs often come in a series (a task awaiting one after another): an idle
 * worker polls for the next one briefly before it sleeps, which saves the
 * futex sleep and wake-up of a round trip. Called and returns with mu held. */
static void spin_for_job(uvr_executor *s) {
  uint64_t until = uv_hrtime() + UVR_SPIN_NS;
  s->spinning++;
  uv_mutex_unlock(&s->mu);
  while (atomic_load_explicit(&s->queued, memory_order_relaxed) == 0 && uv_hrtime() < until) uvr_cpu_relax();
  uv_mutex_lock(&s->mu);
  s->spinning--;
}

static void worker_main(void *arg) {
  uvr_executor *s = arg;
  uvr_job *job;
  sigset_t all;

  /* Signals belong to the loop's thread: a SIGINT handled here would race
   * with the loop that watches it (D3). */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  uv_mutex_lock(&s->mu);
  for (;;) {
    if (s->head == NULL && !s->stopping) spin_for_job(s);
    while (s->head == NULL && !s->stopping) {
      s->waiting++;
      uv_cond_wait(&s->cond, &s->mu);
      s->waiting--;
    }
    job = s->head;
    if (job == NULL) break; /* stopping, and the queue is drained */
    s->head = job->qnext;
    if (s->head == NULL) s->tail = NULL;
    s->nqueued--;
    atomic_store_explicit(&s->queued, s->nqueued, memory_order_relaxed);
    s->nrunning++;
    uv_mutex_unlock(&s->mu);

    job_run(job);

    uv_mutex_lock(&s->mu);
    s->nrunning--;
    job_post(s, job);
  }
  if (--s->nalive == 0 && s->notify_exit && s->loop != NULL) {
    /* On failure the run waiting for the shutdown fails. */
    if (uvr_loop_push_threadsafe(s->loop, workers_exited_cb, s) == UVRUN_E_NOMEM) uvr_loop_lost(s->loop);
  }
  uv_mutex_unlock(&s->mu);
  executor_unref(s);
}

/* Must be called with s->mu held. */
static int worker_start(uvr_executor *s) {
  int rc;
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  rc = uv_thread_create(&s->threads[s->nthreads], worker_main, s);
  if (rc < 0) {
    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_relaxed);
    return rc;
  }
  s->nthreads++;
  s->nalive++;
  return 0;
}

/* Join (the workers have exited) or detach (they may run on) every thread.
 * uv_thread_detach() is not in libuv 1.44. */
static void threads_release(uvr_executor *s, int join) {
  int i;
  for (i = 0; i < s->nthreads; i++) {
    if (join) uv_thread_join(&s->threads[i]);
#ifdef _WIN32
    else CloseHandle(s->threads[i]);
#else
    else pthread_detach(s->threads[i]);
#endif
  }
  s->threads_released = 1;
}

/* ---- loop thread ---- */

static void job_unlink(uvr_executor *s, uvr_job *job) {
  if (job->prev != NULL) job->prev->next = job->next;
  else s->jobs = job->next;
  if (job->next != NULL) job->next->prev = job->prev;
}

static void job_done_cb(uvrun_loop_t *loop, uvr_item *item, int run) {
  uvr_job *job = item->a;
  uvr_executor *s = job->pool;
  uvrun_future_t *fut = job->fut;

  if (fut == NULL) { /* detached: the pool may be gone */
    job_free(job);
    return;
  }
  /* A future cancelled meanwhile ignores the outcome, as in asyncio. A
   * discarded completion leaves it pending, as a closed loop does. */
  if (run && !uvrun_future_done(fut)) {
    if (job->err != NULL) {
      uvrun_future_set_error(fut, job->err);
      job->err = NULL;
    } else {
      uvrun_future_set_result(fut, job->result, NULL);
    }
  }
  uvrun_future_unref(fut);
  job_unlink(s, job);
  job_free(job);
}

int uvr_executor_busy(const uvrun_loop_t *loop) { return loop->executor != NULL && loop->executor->jobs != NULL; }

static int submit(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud, uvrun_future_t *fut, int io) {
  uvr_executor *s;
  uvr_job *job;
  int rc;

  if (loop->closed) return uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
  if (loop->executor_shutdown_called) return uvr_fail(UVRUN_E_EXECUTOR_SHUTDOWN, "Executor shutdown has been called");
  if (loop->executor == NULL) {
    rc = executor_new(loop, &loop->executor);
    if (rc < 0) return rc;
  }
  s = loop->executor;

  job = uvr_calloc(1, sizeof *job);
  if (job == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  job->fn = fn;
  job->ud = ud;
  job->pool = s;
  job->ctx = uvr_map_ref(uvr_context_current()->map);
  job->fut = uvrun_future_ref(fut);
  job->io = (uint8_t)io;

  uv_mutex_lock(&s->mu);
  /* Like ThreadPoolExecutor: a new worker unless an idle one will take it. */
  if ((size_t)(s->waiting + s->spinning) <= s->nqueued && s->nthreads < s->max_threads) {
    rc = worker_start(s);
    /* Without any worker the job would never run; with some it waits. */
    if (rc < 0 && s->nthreads == 0) {
      uv_mutex_unlock(&s->mu);
      rc = uvr_fail(rc, "cannot start an executor thread: %s", uv_strerror(rc));
      goto fail_thread;
    }
  }
  if (s->tail != NULL) s->tail->qnext = job;
  else s->head = job;
  s->tail = job;
  s->nqueued++;
  atomic_store_explicit(&s->queued, s->nqueued, memory_order_relaxed);
  if (s->waiting > 0 && (size_t)s->spinning < s->nqueued) uv_cond_signal(&s->cond);
  uv_mutex_unlock(&s->mu);

  job->next = s->jobs;
  if (s->jobs != NULL) s->jobs->prev = job;
  s->jobs = job;
  return 0;

fail_thread:
  uvrun_future_unref(job->fut);
  job_free(job);
  return rc;
}

int uvr_executor_submit(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud, uvrun_future_t **out) {
  uvrun_future_t *fut;
  int rc;

  *out = NULL;
  if (loop == NULL || fn == NULL)
    return uvr_fail(UVRUN_E_INVAL, "uvrun_run_in_executor: %s is NULL", loop == NULL ? "loop" : "fn");
  if ((rc = uvrun_future_new(loop, &fut)) < 0) return rc;
  if ((rc = submit(loop, fn, ud, fut, 0)) < 0) {
    uvrun_future_unref(fut);
    return rc;
  }
  *out = fut;
  return 0;
}

int uvr_executor_submit_io(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud, uvrun_future_t *fut) {
  return submit(loop, fn, ud, fut, 1);
}

/* Which jobs are still queued is known under mu; their futures are the
 * loop thread's, cancelled after it (cancel callbacks are queued, never
 * run inline, so the job list holds still). A job a worker takes meanwhile
 * runs: it has started. */
void uvr_executor_cancel_queued_io(uvrun_loop_t *loop) {
  uvr_executor *s = loop->executor;
  uvr_job *job;
  if (s == NULL) return;
  uv_mutex_lock(&s->mu);
  for (job = s->head; job != NULL; job = job->qnext) job->cancel_queued = job->io;
  uv_mutex_unlock(&s->mu);
  for (job = s->jobs; job != NULL; job = job->next)
    if (job->cancel_queued) uvrun_future_cancel(job->fut, NULL);
}

uvrun_future_t *uvrun_run_in_executor(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud) {
  uvrun_future_t *fut;
  return uvr_executor_submit(loop, fn, ud, &fut) < 0 ? NULL : fut;
}

/* ---- shutdown (R58-R59) ---- */

static void workers_exited_cb(uvrun_loop_t *loop, uvr_item *item, int run) {
  uvr_executor *s = item->a;
  (void)loop;
  /* Discarded: the loop is closing, and the pool may be gone. */
  if (!run) return;
  /* A waiter's timeout may have let the threads go already. */
  if (!s->threads_released) threads_release(s, 1);
  uvrun_future_set_result(s->exited, NULL, NULL);
}

/* Lets the workers exit once the queue is empty, so that queued jobs still
 * run (R59); s->exited is done when the last one has. Idempotent. */
static int executor_stop(uvrun_loop_t *loop, uvr_executor *s) {
  int rc, exited;
  if (s->exited != NULL) return 0;
  rc = uvrun_future_new(loop, &s->exited);
  if (rc < 0) return rc;
  uv_mutex_lock(&s->mu);
  s->stopping = 1;
  exited = s->nalive == 0;
  s->notify_exit = !exited;
  uv_cond_broadcast(&s->cond);
  uv_mutex_unlock(&s->mu);
  if (exited) { /* no worker ever started (thread creation failed) */
    threads_release(s, 1);
    uvrun_future_set_result(s->exited, NULL, NULL);
  }
  return 0;
}

/* A waiter's timeout expired: R58's warning, then executor.shutdown(wait=False)
 * -- the threads finish their jobs on their own. Other waiters still learn
 * when they are done. */
static void executor_abandon(uvr_executor *s, double timeout) {
  size_t running, queued;
  uv_mutex_lock(&s->mu);
  running = s->nrunning;
  queued = s->nqueued;
  uv_mutex_unlock(&s->mu);
  /* R58's exact sentence (its grammar included), then X3's details. */
  uvr_logf(UVRUN_LOG_WARNING,
           "The executor did not finishing joining its threads within %g seconds.\n"
           "%zu job%s still running, %zu queued.",
           timeout, running, running == 1 ? "" : "s", queued);
  if (!s->threads_released) threads_release(s, 0);
}

/* The end of one call's wait (arg: its timeout). */
static int shutdown_waited(uvrun_task_t *task, int rc, void *arg) {
  if (rc != UVRUN_E_TIMEDOUT) return rc; /* 0, or cancelled */
  executor_abandon(uvrun_task_loop(task)->executor, *(double *)arg);
  return 0;
}

/* The workers' exit, passed on to one waiter: cancelling a waiter must not
 * cancel the exit the others wait for. */
static void follow_exited(uvrun_future_t *exited, void *ud) {
  uvrun_future_t *mine = ud;
  (void)exited;
  if (!uvrun_future_done(mine)) uvrun_future_set_result(mine, NULL, NULL);
  uvrun_future_unref(mine);
}

/* A waiter's future, when the exit can no longer come (the loop closed). */
static void drop_waiter(void *mine) { uvrun_future_unref(mine); }

/* Waits for the workers' exit with this call's own timeout, in a task, as
 * asyncio's runner wraps the coroutine: cancelling it ends only this wait. */
static uvrun_future_t *shutdown_wait(uvrun_loop_t *loop, uvr_executor *s, double timeout) {
  uvrun_future_t *mine;
  double *arg;
  if (uvrun_future_new(loop, &mine) < 0) return NULL;
  if (uvr_future_add_done_callback_holding(s->exited, follow_exited, mine, drop_waiter) < 0) {
    uvrun_future_unref(mine);
    return NULL;
  }
  arg = uvr_malloc(sizeof *arg);
  if (arg == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  *arg = timeout;
  /* The callback holds the reference we had; wait_for takes a new one. */
  return uvr_continue_with(loop, uvrun_wait_for(uvrun_future_ref(mine), timeout), shutdown_waited, arg, uvr_free);
}

uvrun_future_t *uvrun_shutdown_default_executor(uvrun_loop_t *loop, double timeout) {
  uvr_executor *s;
  if (loop == NULL || !(timeout >= 0)) { /* also NaN */
    uvr_fail(UVRUN_E_INVAL, "a loop and a timeout >= 0 are needed");
    return NULL;
  }
  if (loop->closed) {
    uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
    return NULL;
  }
  loop->executor_shutdown_called = 1;
  s = loop->executor;
  if (s == NULL) return uvr_future_new_done(loop); /* no pool was ever made */
  if (executor_stop(loop, s) < 0) return NULL;
  if (uvrun_future_done(s->exited)) return uvr_future_new_done(loop);
  return shutdown_wait(loop, s, timeout);
}

void uvr_executor_detach(uvrun_loop_t *loop) {
  uvr_executor *s = loop->executor;
  uvr_job *job;

  loop->executor_shutdown_called = 1;
  if (s == NULL) return;
  loop->executor = NULL;

  /* Python's executor.shutdown(wait=False): queued jobs still run, their
   * results go nowhere. */
  uv_mutex_lock(&s->mu);
  s->loop = NULL;
  s->stopping = 1;
  s->notify_exit = 0;
  uv_cond_broadcast(&s->cond);
  uv_mutex_unlock(&s->mu);

  if (!s->threads_released) threads_release(s, 0);
  /* Nobody can wait on a closed loop: drop, do not complete. */
  uvrun_future_unref(s->exited);
  s->exited = NULL;
  for (job = s->jobs; job != NULL; job = job->next) {
    uvrun_future_unref(job->fut);
    job->fut = NULL;
  }
  s->jobs = NULL;
  executor_unref(s);
}

size_t uvr_executor_jobs(const uvrun_loop_t *loop) {
  uvr_executor *s = loop->executor;
  size_t n;
  if (s == NULL) return 0;
  uv_mutex_lock(&s->mu);
  n = s->nqueued + s->nrunning;
  uv_mutex_unlock(&s->mu);
  return n;
}
