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

/* Free words are kept in reserve for items promised to come (a task's step,
 * a done callback: what wakes a task), so that queuing them needs no memory
 * and cannot fail: cap - nwords >= reserved at all times. A one-word item
 * takes its word out of the reserve and gives it back when popped (each
 * task reserves one for its life); an item reserved on its own takes its
 * words once (uvr_ready_push_reserved). Any other item leaves the reserve
 * free, growing the ring, and may fail. */
typedef struct uvr_ring {
  uvr_word *words;
  size_t head, nwords, cap; /* in words; cap is a power of two */
  size_t count;             /* items */
  size_t reserved;          /* free words promised */
  uint64_t trim_at;         /* when unneeded words go back (uvr_ready_decay); 0: not due */
  uint8_t grew;             /* since trim_at was set */
} uvr_ring;

/* Whether an item is a run function and a, aligned: one or two words. */
static inline int uvr_item_is_run_a(const uvr_item *item) {
  return item->fn.cb == NULL && item->b == NULL && item->x.handle == NULL && item->ctx == NULL &&
         ((uintptr_t)item->a & 3) == 0;
}

/* How many words an item takes in the queue: 1, 2, 4 or 6. */
static inline size_t uvr_item_words(const uvr_item *item, uvr_run_fn word_run) {
  if (uvr_item_is_run_a(item)) return item->run == word_run ? 1 : 2;
  return item->x.handle == NULL && item->ctx == NULL && ((uintptr_t)item->a & 3) == 0 ? 4 : 6;
}

/* Queues an item; takes over its ctx/handle references. 0 or NOMEM
 * (recorded). The one- and two-word forms are inline: for a constant item
 * the checks fold away; uvr_ready_push_words does the rest (from_reserve:
 * the item's words were reserved for it). */
int uvr_ready_push_words(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run, int from_reserve);
UVR_HOT_INLINE int uvr_ready_push(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run) {
  if (uvr_item_is_run_a(item)) {
    size_t mask = r->cap - 1, at = r->head + r->nwords;
    if (item->run == word_run) {
      if (UVR_LIKELY(r->reserved > 0)) { /* a task's step: its word is free */
        r->words[at & mask].tag = (uintptr_t)item->a | 1;
        r->nwords += 1;
        r->reserved -= 1;
        r->count++;
        return 0;
      }
    } else if (UVR_LIKELY(r->cap - r->nwords >= r->reserved + 2)) {
      r->words[at & mask].tag = (uintptr_t)item->a | 2;
      r->words[(at + 1) & mask].run = item->run;
      r->nwords += 2;
      r->count++;
      return 0;
    }
  }
  return uvr_ready_push_words(r, item, word_run, 0);
}

/* Queues an item whose words (uvr_item_words) were reserved for it: no
 * memory needed. 0; NOMEM only if the reserve came up short, which only a
 * misuse can cause (a task's own sleep started outside its step, which
 * queues its step twice). */
static inline int uvr_ready_push_reserved(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run) {
  return uvr_ready_push_words(r, item, word_run, 1);
}

/* Keeps n more words free for an item to come, growing the ring if needed:
 * 0 or NOMEM (recorded). uvr_ready_unreserve gives them up unused. */
int uvr_ready_reserve_grow(uvr_ring *r, size_t n);
UVR_HOT_INLINE int uvr_ready_reserve(uvr_ring *r, size_t n) {
  if (UVR_LIKELY(r->cap - r->nwords >= r->reserved + n)) {
    r->reserved += n;
    return 0;
  }
  return uvr_ready_reserve_grow(r, n);
}
static inline void uvr_ready_unreserve(uvr_ring *r, size_t n) {
  /* Never below 0, even after a short reserve (uvr_ready_push_reserved). */
  r->reserved -= n < r->reserved ? n : r->reserved;
}

/* Takes the first item off a queue that has one. */
UVR_HOT_INLINE uvr_item uvr_ready_pop(uvr_ring *r, uvr_run_fn word_run) {
  const uvr_word *w = r->words;
  size_t mask = r->cap - 1, h = r->head, n;
  uintptr_t tag = w[h].tag;
  uvr_item it = {word_run, {NULL}, (void *)(tag & ~(uintptr_t)3), NULL, {NULL}, NULL};
  if (UVR_LIKELY((tag & 3) == 1)) {
    n = 1;
    r->reserved++; /* the task's word, back in reserve */
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

/* Gives back the memory of words the queue has not needed for a second --
 * a burst of items or of tasks now gone -- once it is empty: what it holds
 * beyond twice its reserve, or beyond its first block. Returns when it
 * wants to look again (UINT64_MAX: nothing to give back). */
uint64_t uvr_ready_decay(uvr_ring *r, uint64_t now);

void uvr_ready_free(uvr_ring *r);

#endif /* UVRUN_READY_H */
