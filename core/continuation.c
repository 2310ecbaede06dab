/* continuation.c -- a task that awaits one future, then hands the outcome
 * to a function: how the awaitable shutdown steps (R55, R58) run their code
 * after the wait. Being a task, it is cancelled as asyncio's coroutine is:
 * cancelling it cancels what it awaits. */
#include "internal.h"

typedef struct continuation {
  uvrun_future_t *fut; /* until awaited */
  uvr_then_fn then;
  void *arg;
  uvrun_free_fn arg_free;
} continuation;

static void continuation_free(void *p) {
  continuation *k = p;
  uvrun_future_unref(k->fut);
  if (k->arg_free != NULL) k->arg_free(k->arg);
  uvr_free(k);
}

static int continuation_step(uvrun_task_t *task, void *p) {
  continuation *k = p;
  uvrun_future_t *fut = k->fut;
  int rc = uvrun_task_resume(task, NULL);
  if (fut == NULL) return k->then(task, rc, k->arg);
  k->fut = NULL;
  if (rc == 0) return uvrun_task_await(task, fut);
  /* Cancelled before it began: what it was to await is cancelled too. */
  uvrun_future_cancel(fut, NULL);
  uvrun_future_unref(fut);
  return rc;
}

uvrun_future_t *uvr_continue_with(uvrun_loop_t *loop, uvrun_future_t *fut, uvr_then_fn then, void *arg,
                                  uvrun_free_fn arg_free) {
  uvrun_task_opts_t opts;
  uvrun_task_t *task = NULL;
  continuation *k;
  if (fut == NULL) { /* the error that produced it stands */
    if (arg_free != NULL) arg_free(arg);
    return NULL;
  }
  k = uvr_calloc(1, sizeof *k);
  uvrun_future_ref(fut); /* ours: to cancel it if this fails */
  if (k == NULL) {
    uvrun_future_unref(fut); /* the caller's */
    if (arg_free != NULL) arg_free(arg);
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
  } else {
    k->fut = fut;
    k->then = then;
    k->arg = arg;
    k->arg_free = arg_free;
    uvrun_task_opts_init(&opts);
    opts.arg_free = continuation_free;
    uvrun_task_new(loop, continuation_step, k, &opts, &task); /* failing, it frees k */
  }
  /* No one will await fut: what it stands for stops. */
  if (task == NULL) uvrun_future_cancel(fut, NULL);
  uvrun_future_unref(fut);
  return task != NULL ? uvrun_task_future(task) : NULL;
}
