/* future.c -- a result, an error or a cancellation that arrives later.
 * Done callbacks never run inline: they are queued on the loop (R35). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void uvr_future_init(uvrun_future_t *fut, uvrun_loop_t *loop) {
  fut->refs = 1;
  fut->loop = uvr_loop_ref(loop);
}

int uvrun_future_new(uvrun_loop_t *loop, uvrun_future_t **out) {
  uvrun_future_t *fut;
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "out must not be NULL");
  *out = NULL;
  if (loop == NULL) return uvr_fail(UVRUN_E_INVAL, "loop must not be NULL");
  fut = uvr_calloc(1, sizeof *fut);
  if (fut == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  uvr_future_init(fut, loop);
  *out = fut;
  return 0;
}

uvrun_future_t *uvr_future_new_with_state(uvrun_loop_t *loop, size_t state_size, int kind) {
  uvrun_future_t *fut;
  if (loop == NULL) {
    uvr_fail(UVRUN_E_INVAL, "loop must not be NULL");
    return NULL;
  }
  if ((fut = uvr_calloc(1, UVR_FUTURE_STATE_AT + state_size)) == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  uvr_future_init(fut, loop);
  fut->kind = (uint8_t)kind;
  return fut;
}

uvrun_future_t *uvr_future_new_done(uvrun_loop_t *loop) {
  uvrun_future_t *fut;
  if (uvrun_future_new(loop, &fut) < 0) return NULL;
  uvrun_future_set_result(fut, NULL, NULL);
  return fut;
}

uvrun_future_t *uvrun_future_ref(uvrun_future_t *fut) {
  if (fut != NULL) fut->refs++;
  return fut;
}

/* A plain future does everything the plain way. */
static const uvr_future_ops plain_ops = {NULL, NULL, NULL};

static const uvr_future_ops *ops_of(const uvrun_future_t *fut) {
  static const uvr_future_ops *const kinds[] = {
      [UVR_FUT_PLAIN] = &plain_ops,           [UVR_FUT_TASK] = &uvr_task_ops,
      [UVR_FUT_SLEEP] = &uvr_sleep_ops,       [UVR_FUT_GATHER] = &uvr_gather_ops,
      [UVR_FUT_WAIT_ANY] = &uvr_wait_any_ops, [UVR_FUT_WAIT_FOR] = &uvr_wait_for_ops,
      [UVR_FUT_IO] = &uvr_io_future_ops,
  };
  return kinds[fut->kind];
}

static uint32_t ncbs(const uvrun_future_t *fut) {
  return fut->cb0.fn == NULL ? 0 : 1 + (fut->more != NULL ? fut->more->n : 0);
}
static uvr_done_cb *cb_at(uvrun_future_t *fut, uint32_t i) { return i == 0 ? &fut->cb0 : &fut->more->at[i - 1]; }

static void run_done(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_future_t *fut = it->a;
  (void)loop;
  if (run) {
    uvrun_context_t scope;
    uvr_scope_enter(&scope, it->ctx);
    it->fn.done(fut, it->b);
    uvr_scope_exit(&scope);
  } else if (it->x.drop != NULL) {
    it->x.drop(it->b);
  }
  uvr_map_unref(it->ctx);
  uvrun_future_unref(fut);
}

/* The ready item that runs a done callback of fut. */
static uvr_item done_item(uvrun_future_t *fut, const uvr_done_cb *cb) {
  uvr_item it = {run_done, {NULL}, fut, cb->ud, {NULL}, cb->ctx};
  it.fn.done = cb->fn;
  it.x.drop = cb->drop;
  return it;
}

/* A callback keeps the words of its item reserved in the ready queue from
 * registration until it is queued: a future completes, and wakes whoever
 * awaits it, without allocating. */
static size_t reserved_words(uvrun_future_t *fut, const uvr_done_cb *cb) {
  uvr_item it = done_item(fut, cb);
  return uvr_loop_item_words(&it);
}

void uvr_future_release_fields(uvrun_future_t *fut) {
  if (fut->value_free != NULL && !fut->value_moved) fut->value_free(fut->value);
  fut->value_free = NULL;
  uvrun_error_unref(fut->error);
  fut->error = NULL;
  uvr_future_drop_callbacks(fut);
}

static void held_link(uvrun_future_t *fut) {
  uvrun_loop_t *loop = fut->loop;
  if (fut->held || uvr_is_task(fut)) return; /* tasks: uvr_task_drop_all */
  fut->held = 1;
  fut->link_prev = NULL;
  fut->link_next = loop->held;
  if (loop->held != NULL) loop->held->link_prev = fut;
  loop->held = fut;
}

static void held_unlink(uvrun_future_t *fut) {
  if (!fut->held) return;
  if (fut->link_prev != NULL) fut->link_prev->link_next = fut->link_next;
  else fut->loop->held = fut->link_next;
  if (fut->link_next != NULL) fut->link_next->link_prev = fut->link_prev;
  fut->held = 0;
  fut->link_prev = fut->link_next = NULL;
}

/* Detaches every callback from fut: cb0 is copied out, the rest returned.
 * With none left, the loop need not hold fut either. */
static uvr_done_cbs *detach_callbacks(uvrun_future_t *fut, uvr_done_cb *first) {
  uvr_done_cbs *more = fut->more;
  *first = fut->cb0;
  fut->cb0.fn = NULL;
  fut->more = NULL;
  held_unlink(fut);
  return more;
}

void uvr_future_drop_all_held(uvrun_loop_t *loop) {
  while (loop->held != NULL) {
    uvrun_future_t *fut = loop->held;
    held_unlink(fut);
    fut->refs++; /* a drop may release the last other reference */
    uvr_future_drop_callbacks(fut);
    uvrun_future_unref(fut);
  }
}

void uvr_future_drop_callbacks(uvrun_future_t *fut) {
  uint32_t i, n = ncbs(fut);
  uvr_done_cb first;
  uvr_done_cbs *cbs;
  if (n == 0) return; /* most futures; with no callbacks none is held */
  /* Detach first: a drop may free what refers back to this future. */
  cbs = detach_callbacks(fut, &first);
  for (i = 0; i < n; i++) {
    uvr_done_cb *c = i == 0 ? &first : &cbs->at[i - 1];
    uvr_loop_unreserve(fut->loop, reserved_words(fut, c));
    uvr_map_unref(c->ctx);
    if (c->drop != NULL) c->drop(c->ud);
  }
  uvr_free(cbs);
}

void uvr_future_check_unretrieved(uvrun_future_t *fut) {
  if (fut->state != UVR_ERROR || fut->retrieved) return;
  fut->retrieved = 1;
  if (uvr_is_task(fut)) {
    uvr_report(fut->loop, "Task exception was never retrieved", fut->error, (uvrun_task_t *)fut, NULL,
               uvr_task_site((uvrun_task_t *)fut));
  } else {
    uvr_report(fut->loop, "Future exception was never retrieved", fut->error, NULL, fut, NULL);
  }
}

void uvrun_future_unref(uvrun_future_t *fut) {
  uvrun_loop_t *loop;
  if (fut == NULL || --fut->refs > 0) return;
  fut->refs = 1; /* reports below may take and drop references */
  uvr_future_check_unretrieved(fut);
  if (ops_of(fut)->on_free != NULL) ops_of(fut)->on_free(fut);
  uvr_future_release_fields(fut);
  loop = fut->loop;
  if (!uvr_is_task(fut) || !uvr_task_recycle((uvrun_task_t *)fut)) uvr_free(fut);
  uvr_loop_unref(loop);
}

uvrun_loop_t *uvrun_future_loop(const uvrun_future_t *fut) { return fut != NULL ? fut->loop : NULL; }

/* ---- completion ---- */

/* Queues a callback, on the words it reserved. */
static void schedule_one(uvrun_future_t *fut, uvr_done_cb *cb) {
  if (!fut->loop->closed) {
    uvr_item it = done_item(fut, cb);
    if (uvr_loop_push_reserved(fut->loop, &it) == 0) {
      fut->refs++;
      return;
    }
    uvr_loop_unreserve(fut->loop, uvr_loop_item_words(&it));
    uvr_loop_lost(fut->loop);
  }
  /* R61: nothing runs on a closed loop. */
  uvr_map_unref(cb->ctx);
  if (cb->drop != NULL) cb->drop(cb->ud);
}

void uvr_future_schedule_callbacks(uvrun_future_t *fut) {
  uint32_t i, n = ncbs(fut);
  uvr_done_cb first;
  uvr_done_cbs *cbs;
  if (n == 0) return;
  cbs = detach_callbacks(fut, &first);
  for (i = 0; i < n; i++) schedule_one(fut, i == 0 ? &first : &cbs->at[i - 1]);
  uvr_free(cbs);
}

static int check_settable(uvrun_future_t *fut) {
  if (fut == NULL) return uvr_fail(UVRUN_E_INVAL, "future must not be NULL");
  if (uvr_is_task(fut)) return uvr_fail(UVRUN_E_INVALID_STATE, "Task does not support set_result() operation");
  if (fut->state != UVR_PENDING) return uvr_fail(UVRUN_E_INVALID_STATE, "invalid state");
  return 0;
}

int uvrun_future_set_result(uvrun_future_t *fut, void *value, uvrun_free_fn value_free) {
  int rc = check_settable(fut);
  if (rc < 0) return rc;
  fut->state = UVR_RESULT;
  fut->value = value;
  fut->value_free = value_free;
  uvr_future_schedule_callbacks(fut);
  return 0;
}

int uvrun_future_set_error(uvrun_future_t *fut, uvrun_error_t *err) {
  int rc = err == NULL ? uvr_fail(UVRUN_E_INVAL, "error must not be NULL") : check_settable(fut);
  if (rc < 0) {
    uvrun_error_unref(err);
    return rc;
  }
  fut->state = UVR_ERROR;
  fut->error = err;
  uvr_future_schedule_callbacks(fut);
  return 0;
}

int uvrun_future_set_error_code(uvrun_future_t *fut, int code, const char *message) {
  if (code >= 0) return uvr_fail(UVRUN_E_INVAL, "an error code is negative");
  return uvrun_future_set_error(fut, uvr_error_make(code, message));
}

int uvr_future_cancel_plain(uvrun_future_t *fut, const char *msg) {
  if (fut->state != UVR_PENDING) return 0;
  fut->state = UVR_CANCELLED;
  fut->error = uvr_cancelled_with(msg); /* none: made on demand */
  uvr_future_schedule_callbacks(fut);
  return 1;
}

int uvrun_future_cancel(uvrun_future_t *fut, const char *msg) {
  if (fut == NULL) return 0;
  if (ops_of(fut)->cancel != NULL) return ops_of(fut)->cancel(fut, msg);
  return uvr_future_cancel_plain(fut, msg);
}

void uvr_future_copy_outcome(uvrun_future_t *dst, uvrun_future_t *src) {
  if (dst->state != UVR_PENDING) return;
  switch (src->state) {
  case UVR_CANCELLED: uvr_future_cancel_plain(dst, src->error != NULL ? src->error->message : NULL); break;
  case UVR_ERROR:
    src->retrieved = 1;
    uvrun_future_set_error(dst, uvrun_error_ref(src->error));
    break;
  case UVR_RESULT: /* taken when dst's result is (dst's kind passes the take on) */
    uvrun_future_set_result(dst, src->value, NULL);
    break;
  }
}

void uvr_future_take(uvrun_future_t *fut) {
  if (fut->state == UVR_RESULT && ops_of(fut)->take != NULL) ops_of(fut)->take(fut);
}

/* ---- queries ---- */

int uvrun_future_done(const uvrun_future_t *fut) { return fut != NULL && fut->state != UVR_PENDING; }
int uvrun_future_cancelled(const uvrun_future_t *fut) { return fut != NULL && fut->state == UVR_CANCELLED; }

uvrun_error_t *uvr_future_cancelled_error(uvrun_future_t *fut) {
  if (fut->error == NULL) fut->error = uvr_error_make(UVRUN_E_CANCELLED, "");
  return fut->error;
}

int uvrun_future_result(uvrun_future_t *fut, void **value) {
  if (value != NULL) *value = NULL;
  if (fut == NULL) return uvr_fail(UVRUN_E_INVAL, "future must not be NULL");
  switch (fut->state) {
  case UVR_PENDING: return uvr_fail(UVRUN_E_INVALID_STATE, "Result is not set.");
  case UVR_CANCELLED: return uvr_fail(UVRUN_E_CANCELLED, "%s", uvr_future_cancelled_error(fut)->message);
  case UVR_ERROR: fut->retrieved = 1; return uvr_fail(fut->error->code, "%s", fut->error->message);
  }
  uvr_future_take(fut);
  if (value != NULL) *value = fut->value;
  return 0;
}

uvrun_error_t *uvrun_future_error(uvrun_future_t *fut) {
  if (fut == NULL) return NULL;
  switch (fut->state) {
  case UVR_CANCELLED: return uvr_future_cancelled_error(fut);
  case UVR_ERROR: fut->retrieved = 1; return fut->error;
  }
  return NULL;
}

/* ---- callbacks ---- */

int uvrun_future_add_done_callback(uvrun_future_t *fut, uvrun_done_fn cb, void *ud) {
  return uvr_future_add_done_callback_holding(fut, cb, ud, NULL);
}

int uvrun_future_add_done_callback_owned(uvrun_future_t *fut, uvrun_done_fn cb, void *ud, uvrun_free_fn drop) {
  return uvr_future_add_done_callback_holding(fut, cb, ud, drop);
}

int uvr_future_add_done_callback_holding(uvrun_future_t *fut, uvrun_done_fn cb, void *ud, uvrun_free_fn drop) {
  uvr_done_cb entry;
  size_t words;
  if (fut == NULL || cb == NULL) return uvr_fail(UVRUN_E_INVAL, "future and callback must not be NULL");
  entry.fn = cb;
  entry.ud = ud;
  entry.drop = drop;
  entry.ctx = uvr_map_ref(uvr_context_current()->map);
  words = reserved_words(fut, &entry);
  if (uvr_loop_reserve(fut->loop, words) < 0) {
    uvr_map_unref(entry.ctx);
    return UVRUN_E_NOMEM;
  }
  if (fut->state != UVR_PENDING) {
    schedule_one(fut, &entry);
    return 0;
  }
  if (fut->cb0.fn == NULL) {
    fut->cb0 = entry;
  } else {
    uvr_done_cbs *more = fut->more;
    if (more == NULL || more->n == more->cap) {
      uint32_t cap = more != NULL ? more->cap * 2 : 4;
      more = uvr_realloc(more, sizeof *more + cap * sizeof more->at[0]);
      if (more == NULL) {
        uvr_loop_unreserve(fut->loop, words);
        uvr_map_unref(entry.ctx);
        return uvr_fail(UVRUN_E_NOMEM, "out of memory");
      }
      if (fut->more == NULL) more->n = 0;
      more->cap = cap;
      fut->more = more;
    }
    more->at[more->n++] = entry;
  }
  if (drop != NULL) held_link(fut);
  return 0;
}

int uvrun_future_remove_done_callback(uvrun_future_t *fut, uvrun_done_fn cb, void *ud) {
  uint32_t i, n, kept = 0;
  if (fut == NULL) return 0;
  for (i = 0, n = ncbs(fut); i < n; i++) {
    uvr_done_cb *c = cb_at(fut, i);
    if (c->fn == cb && c->ud == ud) {
      uvr_loop_unreserve(fut->loop, reserved_words(fut, c));
      uvr_map_unref(c->ctx);
    } else {
      *cb_at(fut, kept++) = *c;
    }
  }
  if (kept == 0) { /* none left: none to hold, none to free later */
    uvr_done_cb none;
    uvr_free(detach_callbacks(fut, &none));
  } else if (fut->more != NULL) {
    fut->more->n = kept - 1;
  }
  return (int)(n - kept);
}

/* ---- running a loop until a future is done ---- */

static void stop_on_done(uvrun_future_t *fut, void *ud) {
  /* An interrupt or exit already unwound the loop (R35): do not stop a
   * later run by mistake. */
  if (fut->state == UVR_ERROR && (fut->error->code == UVRUN_E_INTERRUPTED || fut->error->code == UVRUN_E_EXIT)) return;
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

/* ---- description ---- */

void uvr_future_describe(const uvrun_future_t *fut, char *buf, size_t len) {
  if (uvr_is_task(fut)) {
    uvr_task_describe((const uvrun_task_t *)fut, buf, len);
    return;
  }
  switch (fut->state) {
  case UVR_PENDING: snprintf(buf, len, "<Future pending>"); break;
  case UVR_CANCELLED: snprintf(buf, len, "<Future cancelled>"); break;
  case UVR_ERROR:
    snprintf(buf, len, "<Future finished exception=%s('%s')>", uvrun_err_name(fut->error->code), fut->error->message);
    break;
  default: snprintf(buf, len, "<Future finished result=%p>", fut->value); break;
  }
}
