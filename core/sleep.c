/* sleep.c -- uvrun_sleep(): a future set after a delay.
 *
 * A sleep is its own timer, in the heap without a handle: one block per
 * sleep. The heap holds a reference to the future until the timer is
 * popped, as asyncio's timer handle holds the future it will set. */
#include <math.h>
#include <stdio.h>

#include "internal.h"

typedef struct {
  uvr_timer timer; /* first: the heap's slot points here */
  void *value;
} sleep_state;

static uvrun_future_t *sleep_future(uvr_timer *t) { return (uvrun_future_t *)((char *)t - UVR_FUTURE_STATE_AT); }

/* A due sleep (a: its timer, with the heap's reference). */
static void sleep_fire(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_future_t *fut = sleep_future(it->a);
  sleep_state *s = uvr_future_state(fut);
  (void)loop;
  if (run && !s->timer.cancelled && fut->state == UVR_PENDING) uvrun_future_set_result(fut, s->value, NULL);
  uvrun_future_unref(fut);
}

const uvr_timer_ops uvr_sleep_timer_ops = {sleep_fire, 0};

int uvr_sleep_describe_item(const uvr_item *it, char *buf, size_t len) {
  if (it->run != sleep_fire) return 0;
  snprintf(buf, len, "<Handle cb=sleep ud=%p>", it->a);
  return 1;
}

static int sleep_cancel(uvrun_future_t *fut, const char *msg) {
  sleep_state *s = uvr_future_state(fut);
  if (!uvr_future_cancel_plain(fut, msg)) return 0;
  uvr_timer_cancel(fut->loop, &s->timer); /* as asyncio.sleep cancels its handle */
  return 1;
}
const uvr_future_ops uvr_sleep_ops = {sleep_cancel, NULL, NULL};

uvrun_future_t *uvrun_sleep_value(uvrun_loop_t *loop, double seconds, void *value) {
  uvrun_future_t *fut;
  sleep_state *s;
  if (isnan(seconds)) {
    uvr_fail(UVRUN_E_INVAL, "sleep needs a number of seconds, not NaN");
    return NULL;
  }
  fut = uvr_future_new_with_state(loop, sizeof(sleep_state), UVR_FUT_SLEEP);
  if (fut == NULL) return NULL;
  s = uvr_future_state(fut);
  s->timer.kind = UVR_TIMER_SLEEP;
  s->value = value;
  if (uvr_timer_start(loop, &s->timer, seconds) < 0) {
    int code = uvr_last_code();
    uvrun_future_unref(fut);
    uvr_fail(code, "%s", uvrun_strerror(code));
    return NULL;
  }
  return uvrun_future_ref(fut); /* the heap's reference */
}

uvrun_future_t *uvrun_sleep(uvrun_task_t *task, double seconds) {
  if (task == NULL) {
    uvr_fail(UVRUN_E_INVAL, "task must not be NULL");
    return NULL;
  }
  return uvrun_sleep_value(task->fut.loop, seconds, NULL);
}
