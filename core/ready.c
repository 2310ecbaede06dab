/* ready.c -- the ready queue's slow paths: growing, and the four- and
 * six-word forms (ready.h has the encoding and the fast paths). */
#include <string.h>

#include "ready.h"

static int ready_grow(uvr_ring *r) {
  /* 128 words (1 KiB) come from malloc's per-thread cache: a fresh loop
   * allocates and frees a bigger first block at a cost growing never has. */
  size_t old = r->cap, cap = old ? old * 2 : 128;
  size_t wrapped = r->head + r->nwords > old ? r->head + r->nwords - old : 0;
  /* realloc: a big ring is remapped rather than copied, so the old and the
   * new block are never both resident. The words stay where they were;
   * those that wrapped past the old end move after it. */
  uvr_word *words = uvr_realloc(r->words, cap * sizeof *words);
  if (words == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  memcpy(words + old, words, wrapped * sizeof *words);
  r->words = words;
  r->cap = cap;
  return 0;
}

/* Encodes the one- and two-word forms itself rather than calling the inline
 * uvr_ready_push: a call back into it would make the compiler stop inlining
 * it into its hot callers. */
int uvr_ready_push_words(uvr_ring *r, const uvr_item *item, uvr_run_fn word_run) {
  uvr_word w[6];
  size_t n, i, at;
  if (uvr_item_is_run_a(item)) {
    n = item->run == word_run ? 1 : 2; /* the tag is the length */
    w[0].tag = (uintptr_t)item->a | n;
    w[1].run = item->run;
  } else if (item->x.handle == NULL && item->ctx == NULL && ((uintptr_t)item->a & 3) == 0) {
    w[0].tag = (uintptr_t)item->a | 3;
    w[1].run = item->run;
    w[2].fn = item->fn;
    w[3].p = item->b;
    n = 4;
  } else {
    w[0].tag = (uintptr_t)item->ctx;
    w[1].run = item->run;
    w[2].fn = item->fn;
    w[3].p = item->a;
    w[4].p = item->b;
    w[5].x = item->x;
    n = 6;
  }
  if (r->cap - r->nwords < n && ready_grow(r) < 0) return UVRUN_E_NOMEM;
  at = r->head + r->nwords;
  for (i = 0; i < n; i++) r->words[(at + i) & (r->cap - 1)] = w[i];
  r->nwords += n;
  r->count++;
  return 0;
}

void uvr_ready_free(uvr_ring *r) {
  uvr_free(r->words);
  r->words = NULL;
  r->head = r->cap = r->nwords = r->count = 0;
}
