/* demo.c -- a small job on uvrun: "fetch" five items concurrently, checksum
 * each on the executor (blocking work stays off the loop), give up on the
 * slow one after a timeout, print a summary. Takes about 2 seconds.
 *
 * Press Ctrl-C while it runs: the main task is cancelled (R41), its cleanup
 * runs and awaits, and the program dies by SIGINT like any Unix tool (the
 * shell sees 130). A second Ctrl-C stops at once (R44).
 *
 * Tasks are step functions: each call resumes after the previous await, and
 * a switch on a step counter says where (what a coroutine compiles to). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uvrun.h>

#define NFAST 4
#define ITEM_SIZE (1 << 20)

static uvrun_contextvar_t *request_id; /* printed by every log line */
static double t0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One progress line: time, request id, who, what. */
static void log_line(const char *who, const char *what) {
  void *rid = "-";
  uvrun_contextvar_get(request_id, &rid); /* the caller's context, even on a worker */
  printf("%5.2fs [%s] %-7s %s\n", now() - t0, (const char *)rid, who, what);
  fflush(stdout);
}
#define LOG(who, ...)                           \
  do {                                          \
    char line_[160];                            \
    snprintf(line_, sizeof line_, __VA_ARGS__); \
    log_line(who, line_);                       \
  } while (0)

/* ---- one fetch: sleep (the "network"), then checksum on the executor ---- */

typedef struct {
  int step;
  const char *name;
  double latency;
  unsigned char *data; /* filled when "downloaded" */
  uint32_t checksum;
} fetch_t;

/* Runs on an executor thread: blocking, CPU-bound, no loop calls. */
static int checksum_job(void *ud, void **result) {
  fetch_t *f = ud;
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  int round;
  for (round = 0; round < 8; round++)
    for (i = 0; i < ITEM_SIZE; i++) h = (h ^ f->data[i]) * 16777619u;
  LOG(f->name, "checksummed on a worker thread");
  *result = (void *)(uintptr_t)h;
  return 0;
}

static int fetch_step(uvrun_task_t *task, void *arg) {
  fetch_t *f = arg;
  void *value;
  /* Any failure, cancellation included, is passed on unchanged. */
  int rc = uvrun_task_resume(task, &value);
  if (rc < 0) {
    LOG(f->name, "%s", rc == UVRUN_E_CANCELLED ? "cancelled" : uvrun_strerror(rc));
    return rc;
  }
  switch (f->step++) {
  case 0: LOG(f->name, "fetching (%.1fs)", f->latency); return uvrun_task_await(task, uvrun_sleep(task, f->latency));
  case 1:
    memset(f->data, f->name[5], ITEM_SIZE); /* the "response body" */
    LOG(f->name, "downloaded %d KiB", ITEM_SIZE / 1024);
    return uvrun_task_await(task, uvrun_run_in_executor(uvrun_task_loop(task), checksum_job, f));
  default:
    f->checksum = (uint32_t)(uintptr_t)value;
    LOG(f->name, "done, checksum %08x", (unsigned)f->checksum);
    return uvrun_task_return(task, value);
  }
}

/* ---- the main task ---- */

enum { M_START, M_GATHERED, M_SLOW_DONE, M_CLEANED_UP };

typedef struct {
  int step;
  fetch_t items[NFAST + 1]; /* the last one is slow */
  uvrun_task_t *tasks[NFAST + 1];
  uvrun_future_t *slow; /* wait_for(slow item, 2 s) */
} job_t;

static const double latency[NFAST + 1] = {0.3, 0.6, 0.9, 1.2, 5.0};
static const char *const names[NFAST + 1] = {"item-1", "item-2", "item-3", "item-4", "item-5"};

/* Cancelled (Ctrl-C): stop the fetches still running, then flush, which
 * awaits like any other step, before passing the cancellation on. */
static int start_cleanup(uvrun_task_t *task, job_t *job) {
  int i, n = 0;
  printf("cleanup: main task cancelled\n");
  for (i = 0; i <= NFAST; i++) n += uvrun_task_cancel(job->tasks[i], NULL); /* 0 for the finished ones */
  printf("cleanup: cancelled %d unfinished fetch(es)\n", n);
  printf("cleanup: flushing partial results...\n");
  job->step = M_CLEANED_UP;
  return uvrun_task_await(task, uvrun_sleep(task, 0.2));
}

static int main_step(uvrun_task_t *task, void *arg) {
  job_t *job = arg;
  void *value;
  uint32_t total = 0;
  int i, rc = uvrun_task_resume(task, &value);
  if (rc == UVRUN_E_CANCELLED && job->step != M_CLEANED_UP) return start_cleanup(task, job);

  switch (job->step) {
  case M_START: {
    uvrun_future_t *fast[NFAST];
    /* Set in the main task's context; tasks created below copy it. */
    uvrun_contextvar_set(request_id, "req-7f3a", NULL);
    for (i = 0; i <= NFAST; i++) {
      uvrun_task_opts_t opts = UVRUN_TASK_OPTS_INIT;
      opts.name = names[i];
      job->items[i].name = names[i];
      job->items[i].latency = latency[i];
      rc = uvrun_task_new(uvrun_task_loop(task), fetch_step, &job->items[i], &opts, &job->tasks[i]);
      if (rc < 0) return rc;
      if (i < NFAST) fast[i] = uvrun_task_future(job->tasks[i]);
    }
    /* The timeout starts now, so the slow item downloads alongside. */
    job->slow = uvrun_wait_for(uvrun_future_ref(uvrun_task_future(job->tasks[NFAST])), 2.0);
    job->step = M_GATHERED;
    return uvrun_task_await(task, uvrun_gather(uvrun_task_loop(task), fast, NFAST, 0));
  }
  case M_GATHERED:
    if (rc < 0) return rc;
    LOG("main", "%d fast items done; waiting for the slow one", NFAST);
    job->step = M_SLOW_DONE;
    return uvrun_task_await(task, uvrun_future_ref(job->slow));
  case M_SLOW_DONE:
    if (rc == UVRUN_E_TIMEDOUT) LOG("main", "%s timed out after 2.0s; going on without it", names[NFAST]);
    else if (rc < 0) return rc;
    for (i = 0; i < NFAST; i++) total = total * 31u + job->items[i].checksum;
    printf("summary: %d of %d items, %d MiB checksummed, combined checksum %08x, %.2fs\n", NFAST, NFAST + 1,
           NFAST * ITEM_SIZE >> 20, (unsigned)total, now() - t0);
    return uvrun_task_return(task, NULL);
  default: /* M_CLEANED_UP; rc < 0 if close() cut the flush short */
    printf("cleanup: %s\n", rc < 0 ? "cut short" : "done");
    return UVRUN_E_CANCELLED; /* the cancellation goes on, so run() reports the Ctrl-C */
  }
}

int main(void) {
  static unsigned char buffers[NFAST + 1][ITEM_SIZE];
  job_t job;
  int i, rc;

  memset(&job, 0, sizeof job);
  for (i = 0; i <= NFAST; i++) job.items[i].data = buffers[i];
  if (uvrun_contextvar_new("request_id", 1, "-", &request_id) < 0) return 1;
  t0 = now();
  printf("demo: fetching %d items (Ctrl-C to interrupt)\n", NFAST + 1);

  rc = uvrun_run(main_step, &job, NULL, NULL); /* shuts everything down before returning */

  for (i = 0; i <= NFAST; i++) uvrun_task_unref(job.tasks[i]);
  uvrun_future_unref(job.slow);
  uvrun_contextvar_free(request_id);

  if (rc == UVRUN_E_INTERRUPTED) {
    printf("interrupted: cleanup ran\n");
    fflush(stdout);
    /* Die the way a Ctrl-C'd program does, so the shell sees 130. */
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  }
  if (rc < 0) {
    fprintf(stderr, "demo: %s (%s)\n", uvrun_strerror(rc), uvrun_errmsg());
    return 1;
  }
  return 0;
}
