/* ready.h -- the ready queue: the items a loop runs next, in 8-byte words.
 *
 * An item is a run function and what it runs on. The queue packs the common
 * shapes tightly, since it is filled and drained once per task step. */
#ifndef UVRUN_READY_H
#define UVRUN_READY_H

#include "base.h"

typedef struct uvr_item uvr_item;
/* run = 1: do the work; run = 0: the loop closed, only release references. */
typedef void (*uvr_run_fn)(uvrun_loop_t *loop, uvr_item *item, int run);
typedef union uvr_item_fn {
  uvrun_callback_fn cb;
  uvrun_done_fn done;
} uvr_item_fn;
typedef union uvr_item_x {
  uvrun_handle_t *handle; /* callbacks: a reference, or NULL */
  uvrun_free_fn drop;     /* done callbacks: releases b if never run */
} uvr_item_x;
struct uvr_item {
  uvr_run_fn run;
  uvr_item_fn fn;
  void *a, *b;
  uvr_item_x x;
  uvr_map *ctx; /* reference: run inside a copy of this map */
};

/* The queue holds items in 8-byte words. The item queued most -- its run
 * function is the queue's `word_run`, a task's step -- is one word: a | 1.
 * A run function and one pointer (a due timer, a completion from another
 * thread) take two: {a | 2, run}. A callback with no handle and no context
 * (a task woken by what it awaited, say) takes four: {a | 3, run, fn, b}.
 * Any other item takes six: {ctx, run, fn, a, b, x} -- ctx is a map or
 * NULL, aligned. The tagged forms need a aligned too. */
typedef union uvr_word {
  uintptr_t tag; /* an item's first word */
  uvr_run_fn run;
  uvr_item_fn fn;
  void *p;
  uvr_item_x x;
} uvr_word;

typedef struct uvr_ring {
  uvr_word *words;
  size_t head, nwords, cap; /* in words; cap is a power of two */
  size_t count;             /* items */
} uvr_ring;

/* Whether an item is a run function and a, aligned: one or two words. */
static inline int uvr_item_is_run_a(const uvr_item *item) {
  return item->fn.cb == NULL && item->b == NULL && item->x.handle == NULL && item->ctx == NULL &&
         ((uintptr_t)item->a & 3) == 0;
}

/* Queues an item; takes over its ctx/handle references. 0 or NOMEM
 * (recorded). The one- and two-word forms are inline: for a constant item
 * the checks fold away; uvr_ready_push_words does the rest. */
int uvr_ready_push_words(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run);
UVR_HOT_INLINE int uvr_ready_push(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run) {
  if (uvr_item_is_run_a(item) && UVR_LIKELY(r->cap - r->nwords >= 2)) {
    size_t mask = r->cap - 1, at = r->head + r->nwords;
    if (item->run == word_run) {
      r->words[at & mask].tag = (uintptr_t)item->a | 1;
      r->nwords += 1;
    } else {
      r->words[at & mask].tag = (uintptr_t)item->a | 2;
      r->words[(at + 1) & mask].run = item->run;
      r->nwords += 2;
    }
    r->count++;
    return 0;
  }
  return uvr_ready_push_words(r, item, word_run);
}

/* Takes the first item off a queue that has one. */
UVR_HOT_INLINE uvr_item uvr_ready_pop(uvr_ring *r, uvr_run_fn word_run) {
  const uvr_word *w = r->words;
  size_t mask = r->cap - 1, h = r->head, n;
  uintptr_t tag = w[h].tag;
  uvr_item it = {word_run, {NULL}, (void *)(tag & ~(uintptr_t)3), NULL, {NULL}, NULL};
  if (UVR_LIKELY((tag & 3) == 1)) {
    n = 1;
  } else if ((tag & 3) == 2) {
    it.run = w[(h + 1) & mask].run;
    n = 2;
  } else if ((tag & 3) == 3) {
    it.run = w[(h + 1) & mask].run;
    it.fn = w[(h + 2) & mask].fn;
    it.b = w[(h + 3) & mask].p;
    n = 4;
  } else {
    it.ctx = (uvr_map *)tag;
    it.run = w[(h + 1) & mask].run;
    it.fn = w[(h + 2) & mask].fn;
    it.a = w[(h + 3) & mask].p;
    it.b = w[(h + 4) & mask].p;
    it.x = w[(h + 5) & mask].x;
    n = 6;
  }
  r->head = (h + n) & mask;
  r->nwords -= n;
  r->count--;
  return it;
}

/* An empty queue starts over at its first word: a burst after a sleep
 * (100k timers due at once) reuses the words the last one touched rather
 * than wrapping on into words never touched, which become resident. */
static inline void uvr_ready_rewind(uvr_ring *r) {
  if (r->count == 0) r->head = 0;
}

void uvr_ready_free(uvr_ring *r);

#endif /* UVRUN_READY_H */
