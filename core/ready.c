/* ready.c -- the ready queue's slow paths: growing and giving memory back,
 * reserving, and the four- and six-word forms (ready.h has the encoding,
 * the reserve and the fast paths). */
#include <string.h>

#include "ready.h"

/* 128 words (1 KiB) come from malloc's per-thread cache: a fresh loop
 * allocates and frees a bigger first block at a cost growing never has. */
#define FIRST_CAP 128
#define DECAY_NS UINT64_C(1000000000)

static int ready_grow(uvr_ring *r) {
  size_t old = r->cap, cap = old ? old * 2 : FIRST_CAP;
  size_t wrapped = r->head + r->nwords > old ? r->head + r->nwords - old : 0;
  /* realloc: a big ring is remapped rather than copied, so the old and the
   * new block are never both resident. The words stay where they were;
   * those that wrapped past the old end move after it. */
  uvr_word *words = uvr_realloc(r->words, cap * sizeof *words);
  if (words == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  memcpy(words + old, words, wrapped * sizeof *words);
  r->words = words;
  r->cap = cap;
  r->grew = 1;
  return 0;
}

/* Room for n more words beyond the reserve. */
static int make_room(uvr_ring *r, size_t n) {
  while (r->cap - r->nwords < r->reserved + n)
    if (ready_grow(r) < 0) return UVRUN_E_NOMEM;
  return 0;
}

int uvr_ready_reserve_grow(uvr_ring *r, size_t n) {
  if (make_room(r, n) < 0) return UVRUN_E_NOMEM;
  r->reserved += n;
  return 0;
}

/* Encodes the one- and two-word forms itself rather than calling the inline
 * uvr_ready_push: a call back into it would make the compiler stop inlining
 * it into its hot callers. */
int uvr_ready_push_words(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run, int from_reserve) {
  uvr_word w[6];
  size_t n = uvr_item_words(item, word_run), i, at;
  /* A task's step with the reserve empty, which only a misuse can cause:
   * the two-word form, which gives back no word when popped. */
  if (n == 1 && r->reserved == 0) n = 2;
  if (n <= 2) {
    w[0].tag = (uintptr_t)item->a | n; /* the tag is the length */
    w[1].run = item->run;
  } else if (n == 4) {
    w[0].tag = (uintptr_t)item->a | 3;
    w[1].run = item->run;
    w[2].fn = item->fn;
    w[3].p = item->b;
  } else {
    w[0].tag = (uintptr_t)item->ctx;
    w[1].run = item->run;
    w[2].fn = item->fn;
    w[3].p = item->a;
    w[4].p = item->b;
    w[5].x = item->x;
  }
  if ((from_reserve || n == 1) && r->reserved >= n) {
    r->reserved -= n;
  } else if (make_room(r, n) < 0) {
    return UVRUN_E_NOMEM;
  }
  at = r->head + r->nwords;
  for (i = 0; i < n; i++) r->words[(at + i) & (r->cap - 1)] = w[i];
  r->nwords += n;
  r->count++;
  return 0;
}

/* The capacity the queue needs now: twice its words in use and in reserve,
 * a power of two, at least the first block. */
static size_t needed_cap(const uvr_ring *r) {
  size_t cap = FIRST_CAP;
  while (cap < 2 * (r->nwords + r->reserved)) cap *= 2;
  return cap;
}

uint64_t uvr_ready_decay(uvr_ring *r, uint64_t now) {
  size_t cap = needed_cap(r);
  uvr_word *words;
  if (r->cap < 2 * cap) { /* nothing to give back: a period starts when there is */
    r->trim_at = 0;
    return UINT64_MAX;
  }
  if (r->trim_at == 0 || r->grew) { /* it was needed this period */
    r->grew = 0;
    r->trim_at = now + DECAY_NS;
  }
  if (now < r->trim_at || r->nwords > 0) return r->trim_at;
  /* Out of memory, the bigger block stays: nothing fails. */
  if ((words = uvr_realloc(r->words, cap * sizeof *words)) != NULL) {
    r->words = words;
    r->cap = cap;
    r->head = 0;
  }
  r->trim_at = 0;
  return UINT64_MAX;
}

void uvr_ready_free(uvr_ring *r) {
  uvr_free(r->words);
  r->words = NULL;
  r->head = r->cap = r->nwords = r->count = r->reserved = 0;
  r->trim_at = 0;
  r->grew = 0;
}
