/* combinators.c -- futures made of other futures: gather, wait_any and
 * wait_for, each with its state in the future's block, freed with it. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* What a watching callback holds, released if it never runs. */
static void drop_outer(void *outer) { uvrun_future_unref(outer); }

/* ---- children: gather and wait_any watch several futures ---- */

typedef struct {
  size_t n, remaining;
  int return_exceptions;
  int cancel_requested;
  int cancelling; /* gather_cancel is on the stack */
  uvrun_future_t *children[];
} multi_state;

/* Each registered done callback holds a reference to the outer future, so
 * a callback already queued never sees it freed; by the time it is freed,
 * every callback has run. */
static void multi_free(uvrun_future_t *fut) {
  multi_state *s = uvr_future_state(fut);
  size_t i;
  for (i = 0; i < s->n; i++) uvrun_future_unref(s->children[i]);
}
const uvr_future_ops uvr_wait_any_ops = {NULL, multi_free, NULL};

static uvrun_future_t *multi_new(uvrun_loop_t *loop, uvrun_future_t *const *futs, size_t n, uvrun_done_fn cb,
                                 int kind) {
  uvrun_future_t *fut;
  multi_state *s;
  size_t i;
  if (loop == NULL || (futs == NULL && n > 0)) {
    uvr_fail(UVRUN_E_INVAL, "loop and futures must not be NULL");
    return NULL;
  }
  for (i = 0; i < n; i++) {
    if (futs[i] == NULL || futs[i]->loop != loop) {
      uvr_fail(UVRUN_E_INVAL, "futures must be non-NULL and belong to the loop");
      return NULL;
    }
  }
  fut = uvr_future_new_with_state(loop, sizeof(multi_state) + n * sizeof(uvrun_future_t *), kind);
  if (fut == NULL) return NULL;
  s = uvr_future_state(fut);
  for (i = 0; i < n; i++) {
    if (uvr_future_add_done_callback_holding(futs[i], cb, fut, drop_outer) < 0) {
      while (i-- > 0) fut->refs -= uvrun_future_remove_done_callback(futs[i], cb, fut);
      uvrun_future_unref(fut);
      return NULL;
    }
    fut->refs++;
    s->children[i] = uvrun_future_ref(futs[i]);
    s->n = i + 1;
  }
  s->remaining = n;
  return fut;
}

/* ---- gather ---- */

static void gather_update(uvrun_future_t *outer, uvrun_future_t *child) {
  multi_state *s = uvr_future_state(outer);
  size_t i;
  s->remaining--;
  if (outer->state != UVR_PENDING) {
    if (child->state == UVR_ERROR) child->retrieved = 1;
    return;
  }
  if (!s->return_exceptions && child->state != UVR_RESULT) {
    /* The first failure fails the gather; a cancelled child fails it with a
     * CANCELLED error, as asyncio sets a CancelledError exception. */
    uvrun_error_t *err = uvrun_future_error(child);
    uvrun_future_set_error(outer, uvrun_error_ref(err));
    return;
  }
  if (s->remaining > 0) return;
  if (s->return_exceptions) {
    for (i = 0; i < s->n; i++) uvrun_future_error(s->children[i]); /* retrieved */
  }
  if (s->cancel_requested) {
    uvr_future_cancel_plain(outer, NULL); /* R52 */
  } else {
    uvrun_future_set_result(outer, NULL, NULL);
  }
}

static void gather_child_done(uvrun_future_t *child, void *ud) {
  gather_update(ud, child);
  uvrun_future_unref(ud);
}

static int gather_cancel(uvrun_future_t *fut, const char *msg) {
  multi_state *s = uvr_future_state(fut);
  size_t i;
  int any = 0;
  /* A child awaiting this gather cancels it again: stop there. */
  if (fut->state != UVR_PENDING || s->cancelling) return 0;
  s->cancelling = 1;
  for (i = 0; i < s->n; i++) any |= uvrun_future_cancel(s->children[i], msg);
  s->cancelling = 0;
  if (any) s->cancel_requested = 1; /* the gather ends cancelled (R52) */
  return any;
}
const uvr_future_ops uvr_gather_ops = {gather_cancel, multi_free, NULL};

uvrun_future_t *uvrun_gather(uvrun_loop_t *loop, uvrun_future_t *const *futs, size_t n, int return_exceptions) {
  uvrun_future_t *fut = multi_new(loop, futs, n, gather_child_done, UVR_FUT_GATHER);
  if (fut == NULL) return NULL;
  ((multi_state *)uvr_future_state(fut))->return_exceptions = return_exceptions != 0;
  if (n == 0) uvrun_future_set_result(fut, NULL, NULL);
  return fut;
}

/* ---- wait_any ---- */

static void any_child_done(uvrun_future_t *child, void *ud) {
  uvrun_future_t *outer = ud;
  multi_state *s = uvr_future_state(outer);
  size_t i = 0;
  if (outer->state == UVR_PENDING) {
    while (i < s->n && s->children[i] != child) i++;
    uvrun_future_set_result(outer, (void *)(uintptr_t)i, NULL);
  }
  uvrun_future_unref(outer);
}

uvrun_future_t *uvrun_wait_any(uvrun_loop_t *loop, uvrun_future_t *const *futs, size_t n) {
  if (n == 0) {
    uvr_fail(UVRUN_E_INVAL, "Set of awaitables is empty.");
    return NULL;
  }
  return multi_new(loop, futs, n, any_child_done, UVR_FUT_WAIT_ANY);
}

/* ---- wait_for ---- */

typedef struct {
  uvrun_future_t *inner;
  uvrun_handle_t *timer;
  int timed_out;
  int cancel_requested;
} wait_for_state;

static void wait_for_update(uvrun_future_t *outer, uvrun_future_t *inner) {
  wait_for_state *s = uvr_future_state(outer);
  uvrun_handle_cancel(s->timer);
  if (outer->state != UVR_PENDING) return;
  if (s->cancel_requested) {
    if (inner->state == UVR_ERROR) inner->retrieved = 1;
    uvr_future_cancel_plain(outer, NULL);
  } else if (s->timed_out && inner->state == UVR_CANCELLED) {
    uvrun_future_set_error_code(outer, UVRUN_E_TIMEDOUT, "timed out");
  } else {
    /* Done in time, or done anyway while being cancelled: its outcome wins. */
    uvr_future_copy_outcome(outer, inner);
  }
}

/* Holds a reference to outer, like gather's callbacks. */
static void wait_for_inner_done(uvrun_future_t *inner, void *ud) {
  wait_for_update(ud, inner);
  uvrun_future_unref(ud);
}

static void wait_for_expired(void *ud) {
  uvrun_future_t *outer = ud;
  wait_for_state *s = uvr_future_state(outer);
  s->timed_out = 1;
  if (!uvrun_future_cancel(s->inner, NULL) && s->inner->state == UVR_PENDING)
    uvrun_future_set_error_code(outer, UVRUN_E_TIMEDOUT, "timed out");
}

static int wait_for_cancel(uvrun_future_t *outer, const char *msg) {
  wait_for_state *s = uvr_future_state(outer);
  if (outer->state != UVR_PENDING || s->cancel_requested) return 0;
  s->cancel_requested = 1;
  if (!uvrun_future_cancel(s->inner, msg)) uvr_future_cancel_plain(outer, msg);
  return 1;
}

static void wait_for_free(uvrun_future_t *outer) {
  wait_for_state *s = uvr_future_state(outer);
  uvrun_handle_cancel(s->timer);
  uvrun_handle_unref(s->timer);
  uvrun_future_unref(s->inner);
}
/* S3: the inner result is taken (a read consumes its bytes) only when the
 * outer one is: a task cancelled after wait_for completed consumed nothing. */
static void wait_for_take(uvrun_future_t *outer) {
  wait_for_state *s = uvr_future_state(outer);
  uvr_future_take(s->inner);
}
const uvr_future_ops uvr_wait_for_ops = {wait_for_cancel, wait_for_free, wait_for_take};

uvrun_future_t *uvrun_wait_for(uvrun_future_t *fut, double timeout) {
  uvrun_future_t *outer;
  wait_for_state *s;
  if (fut == NULL) { /* the producer's failure stays the last one, when it was just now */
    if (!uvr_failed_in_step() || uvr_last_code() >= 0) uvr_fail(UVRUN_E_INVAL, "future must not be NULL");
    return NULL;
  }
  if (isnan(timeout)) {
    uvrun_future_unref(fut);
    uvr_fail(UVRUN_E_INVAL, "timeout must be a number, not NaN");
    return NULL;
  }
  outer = uvr_future_new_with_state(fut->loop, sizeof(wait_for_state), UVR_FUT_WAIT_FOR);
  if (outer == NULL) {
    uvrun_future_unref(fut);
    return NULL;
  }
  s = uvr_future_state(outer);
  s->inner = fut; /* the caller's reference */
  if (!isinf(timeout) && uvrun_loop_call_later(fut->loop, timeout, wait_for_expired, outer, &s->timer) < 0) goto fail;
  if (uvr_future_add_done_callback_holding(fut, wait_for_inner_done, outer, drop_outer) < 0) goto fail;
  outer->refs++; /* the callback's */
  return outer;

fail:
  uvrun_future_unref(outer);
  return NULL;
}
