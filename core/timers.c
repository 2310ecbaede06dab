/* timers.c -- call_at handles and the timer heap behind them.
 *
 * One binary heap per loop orders every timer: call_at handles, sleep
 * futures and tasks' own sleeps. A due timer is queued on the ready queue as
 * an item of its kind (uvr_timer_ops); a cancelled one stays in the heap
 * until it reaches the top, or until cancelled timers are most of the heap. */
#include <math.h>
#include <stdio.h>

#include "loop.h"

/* ---- handles ---- */

uvrun_handle_t *uvr_handle_new(uvrun_loop_t *loop, uvrun_callback_fn cb, void *ud, int refs) {
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

/* A due call_at handle (a, with the heap's reference). */
static void handle_fire(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_handle_t *h = it->a;
  (void)loop;
  if (run && !h->timer.cancelled) {
    h->timer.cancelled = 1; /* fired: a late cancel() is a no-op */
    uvr_call_in_map(h->ctx, h->cb, h->ud);
  }
  uvrun_handle_unref(h);
}
const uvr_timer_ops uvr_handle_timer_ops = {handle_fire, 0};

int uvr_timers_describe_item(const uvr_item *it, char *buf, size_t len) {
  const uvrun_handle_t *h = it->a;
  if (it->run != handle_fire) return 0;
  snprintf(buf, len, "<Handle cb=%p ud=%p>", (void *)(uintptr_t)h->cb, h->ud);
  return 1;
}

/* ---- the heap ---- */

/* The item that fires t, carrying the heap's reference. */
static uvr_item timer_item(const uvr_timer *t) {
  const uvr_timer_ops *ops = uvr_hooks.timer_kinds[t->kind];
  uvr_item it = {ops->fire, {NULL}, (char *)t - ops->owner_at, NULL, {NULL}, NULL};
  return it;
}

/* The heap's reference, given back. */
static void timer_release(uvrun_loop_t *loop, uvr_timer *t) {
  uvr_item it = timer_item(t);
  it.run(loop, &it, 0);
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
      timer_release(loop, t);
    } else {
      loop->heap[n++] = loop->heap[i];
    }
  }
  loop->heap_n = n;
  loop->heap_cancelled = 0;
  for (i = n / 2; i-- > 0;) heap_sift_down(loop->heap, n, i);
}

void uvr_timers_prune(uvrun_loop_t *loop) {
  while (loop->heap_n > 0 && loop->heap[0].t->cancelled) timer_release(loop, heap_pop(loop));
  if (loop->heap_cancelled > 64 && loop->heap_cancelled * 2 > loop->heap_n) heap_compact(loop);
}

void uvr_timers_queue_due(uvrun_loop_t *loop, uint64_t now) {
  while (loop->heap_n > 0 && loop->heap[0].when <= now) {
    uvr_timer *t = heap_pop(loop);
    uvr_item it = timer_item(t);
    if (t->cancelled) {
      it.run(loop, &it, 0);
    } else if (uvr_loop_push(loop, &it) < 0) {
      it.run(loop, &it, 0);
      uvr_loop_lost(loop);
    }
  }
}

void uvr_timers_discard(uvrun_loop_t *loop) {
  size_t i;
  for (i = 0; i < loop->heap_n; i++) {
    loop->heap[i].t->in_heap = 0;
    timer_release(loop, loop->heap[i].t);
  }
  loop->heap_n = loop->heap_cancelled = 0;
}

void uvr_timers_free(uvrun_loop_t *loop) {
  uvr_free(loop->heap);
  loop->heap = NULL;
  loop->heap_cap = 0;
}

/* ---- starting timers ---- */

/* The loop time `delay` seconds from now; a negative delay is now. */
static double time_after(const uvrun_loop_t *loop, double delay) {
  return uvrun_loop_time(loop) + (delay > 0 ? delay : 0);
}

int uvrun_loop_call_at(uvrun_loop_t *loop, double when, uvrun_callback_fn cb, void *ud, uvrun_handle_t **handle) {
  uvrun_handle_t *h;
  int rc = uvr_loop_check_call(loop, cb, "call_at");
  if (rc < 0) return rc;
  if (isnan(when)) return uvr_fail(UVRUN_E_INVAL, "when must be a number, not NaN");
  h = uvr_handle_new(loop, cb, ud, handle != NULL ? 2 : 1);
  if (h == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  h->ctx = uvr_map_ref(uvr_context_current()->map);
  if (heap_push(loop, &h->timer, uvr_seconds_to_ns(when)) < 0) {
    uvr_map_unref(h->ctx);
    uvr_free(h);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  if (handle != NULL) *handle = h;
  return 0;
}

int uvrun_loop_call_later(uvrun_loop_t *loop, double delay, uvrun_callback_fn cb, void *ud, uvrun_handle_t **handle) {
  if (isnan(delay)) return uvr_fail(UVRUN_E_INVAL, "delay must be a number, not NaN");
  return uvrun_loop_call_at(loop, time_after(loop, delay), cb, ud, handle);
}

int uvr_timer_start(uvrun_loop_t *loop, uvr_timer *t, double delay) {
  int rc = uvr_loop_check(loop);
  if (rc < 0) return rc;
  if (heap_push(loop, t, uvr_seconds_to_ns(time_after(loop, delay))) < 0)
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  return 0;
}
