/* background.c -- a runner on a thread of its own: the loop-in-a-thread
 * recipe, with the runner's full shutdown at stop.
 *
 * The thread creates the runner (a runner is bound to the thread that made
 * it), publishes its loop, and runs until a future the stopper completes
 * through the thread-safe queue; it then closes the runner (R47) and ends.
 * A future made before the loop runs keeps the loop's memory until free, so
 * that late submissions get LOOP_CLOSED instead of touching freed memory. */
#include "internal.h"

struct uvrun_background_s {
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t ready_cond;
  int ready;                /* the thread got as far as running, or failed */
  uvrun_error_t *start_err; /* why it failed */
  uvrun_options_t opts;
  uvrun_loop_t *loop;
  uvrun_future_t *keep; /* holds the loop's memory */
  uvrun_future_t *stop; /* done: the run ends (the thread's only) */
  int joined, status;
};

static void bg_publish(uvrun_background_t *bg, uvrun_loop_t *loop, uvrun_error_t *err) {
  uv_mutex_lock(&bg->mu);
  bg->loop = loop;
  bg->start_err = err;
  bg->ready = 1;
  uv_cond_signal(&bg->ready_cond);
  uv_mutex_unlock(&bg->mu);
}

static int bg_make_loop(uvrun_background_t *bg, uvrun_runner_t **r, uvrun_loop_t **loop) {
  int rc;
  if ((rc = uvrun_runner_new(&bg->opts, r)) < 0) return rc;
  if ((rc = uvrun_runner_get_loop(*r, loop)) < 0) return rc;
  if ((rc = uvrun_future_new(*loop, &bg->keep)) < 0) return rc;
  return uvrun_future_new(*loop, &bg->stop);
}

static void background_main(void *arg) {
  uvrun_background_t *bg = arg;
  uvrun_runner_t *r = NULL;
  uvrun_loop_t *loop = NULL;
  int rc = bg_make_loop(bg, &r, &loop);
  if (rc < 0) {
    bg_publish(bg, NULL, uvrun_take_error());
    uvrun_future_unref(bg->keep);
    bg->keep = NULL;
    uvrun_runner_free(r);
    return;
  }
  bg_publish(bg, loop, NULL);
  rc = uvrun_runner_run_future(r, bg->stop, NULL); /* takes the reference */
  bg->stop = NULL;
  bg->status = uvrun_runner_close(r);
  if (rc < 0) bg->status = rc;
  uvrun_runner_free(r);
}

int uvrun_background_start(const uvrun_options_t *opts, uvrun_background_t **out) {
  uvrun_background_t *bg;
  int rc;
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "out must not be NULL");
  *out = NULL;
  if ((bg = uvr_calloc(1, sizeof *bg)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  if (opts != NULL) bg->opts = *opts;
  else uvrun_options_init(&bg->opts);
  bg->opts.handle_sigint = 0; /* signals belong to the main thread */
  if ((rc = uv_mutex_init(&bg->mu)) != 0) {
    uvr_free(bg);
    return uvr_fail(UVRUN_E_NOMEM, "background runner: %s", uv_strerror(rc));
  }
  if ((rc = uv_cond_init(&bg->ready_cond)) != 0 || (rc = uv_thread_create(&bg->thread, background_main, bg)) != 0) {
    if (rc != 0) uv_cond_destroy(&bg->ready_cond);
    uv_mutex_destroy(&bg->mu);
    uvr_free(bg);
    return uvr_fail(rc, "background runner: cannot start its thread: %s", uv_strerror(rc));
  }
  uv_mutex_lock(&bg->mu);
  while (!bg->ready) uv_cond_wait(&bg->ready_cond, &bg->mu);
  uv_mutex_unlock(&bg->mu);
  if (bg->start_err != NULL) {
    uvrun_error_t *err = bg->start_err;
    uv_thread_join(&bg->thread);
    uv_cond_destroy(&bg->ready_cond);
    uv_mutex_destroy(&bg->mu);
    uvr_free(bg);
    return uvr_fail_error(err);
  }
  *out = bg;
  return 0;
}

uvrun_loop_t *uvrun_background_loop(uvrun_background_t *bg) { return bg != NULL ? bg->loop : NULL; }

static void bg_end_run(void *ud) {
  uvrun_background_t *bg = ud;
  uvrun_future_set_result(bg->stop, NULL, NULL);
}

int uvrun_background_stop(uvrun_background_t *bg) {
  if (bg == NULL) return uvr_fail(UVRUN_E_INVAL, "background runner must not be NULL");
  if (!bg->joined) {
    if (uvr_running_loop == bg->loop)
      return uvr_fail(UVRUN_E_WOULD_DEADLOCK, "a background runner cannot be stopped from its own thread");
    /* Refused only once the loop closed, which its thread does on the way out. */
    uvrun_loop_call_soon_threadsafe(bg->loop, bg_end_run, bg);
    uv_thread_join(&bg->thread);
    bg->joined = 1;
  }
  return bg->status < 0 ? uvr_fail(bg->status, "background runner: its shutdown failed: %s", uvrun_strerror(bg->status))
                        : 0;
}

int uvrun_background_free(uvrun_background_t *bg) {
  int rc;
  if (bg == NULL) return 0;
  rc = uvrun_background_stop(bg);
  if (rc == UVRUN_E_WOULD_DEADLOCK) return rc;
  uvrun_future_unref(bg->keep); /* frees the closed loop: its thread has ended */
  uv_cond_destroy(&bg->ready_cond);
  uv_mutex_destroy(&bg->mu);
  uvr_free(bg);
  return rc;
}
