/* store.c -- a chained hash table of byte strings, grown at load factor 1. */
#include "store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next;
  uint64_t hash;
  char *val;
  size_t vlen, klen;
  char key[];
} entry;

struct store {
  entry **slots;
  size_t nslots, count;
};

static uint64_t hash_of(const char *p, size_t n) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  while (n--) h = (h ^ (unsigned char)*p++) * 1099511628211ull;
  return h;
}

store *store_new(void) {
  store *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->nslots = 1024;
  if ((s->slots = calloc(s->nslots, sizeof *s->slots)) == NULL) {
    free(s);
    return NULL;
  }
  return s;
}

void store_free(store *s) {
  size_t i;
  if (s == NULL) return;
  for (i = 0; i < s->nslots; i++) {
    entry *e = s->slots[i], *next;
    for (; e != NULL; e = next) {
      next = e->next;
      free(e->val);
      free(e);
    }
  }
  free(s->slots);
  free(s);
}

static entry **find(const store *s, const char *key, size_t klen, uint64_t h) {
  entry **at = &s->slots[h & (s->nslots - 1)];
  for (; *at != NULL; at = &(*at)->next)
    if ((*at)->hash == h && (*at)->klen == klen && memcmp((*at)->key, key, klen) == 0) break;
  return at;
}

const char *store_get(const store *s, const char *key, size_t klen, size_t *len) {
  entry *e = *find(s, key, klen, hash_of(key, klen));
  if (e == NULL) return NULL;
  *len = e->vlen;
  return e->val != NULL ? e->val : "";
}

/* Doubles the table; a failed grow leaves it as it was (only slower). */
static void grow(store *s) {
  size_t i, n = s->nslots * 2;
  entry **slots = calloc(n, sizeof *slots);
  if (slots == NULL) return;
  for (i = 0; i < s->nslots; i++) {
    entry *e = s->slots[i], *next;
    for (; e != NULL; e = next) {
      next = e->next;
      e->next = slots[e->hash & (n - 1)];
      slots[e->hash & (n - 1)] = e;
    }
  }
  free(s->slots);
  s->slots = slots;
  s->nslots = n;
}

int store_set(store *s, const char *key, size_t klen, const char *val, size_t vlen) {
  uint64_t h = hash_of(key, klen);
  entry **at = find(s, key, klen, h), *e = *at;
  char *copy = NULL;
  if (vlen > 0) {
    if ((copy = malloc(vlen)) == NULL) return -1;
    memcpy(copy, val, vlen);
  }
  if (e == NULL) {
    if ((e = malloc(sizeof *e + klen)) == NULL) {
      free(copy);
      return -1;
    }
    e->next = NULL;
    e->hash = h;
    e->klen = klen;
    e->val = NULL;
    memcpy(e->key, key, klen);
    *at = e;
    if (++s->count > s->nslots) grow(s);
  }
  free(e->val);
  e->val = copy;
  e->vlen = vlen;
  return 0;
}

int store_del(store *s, const char *key, size_t klen) {
  entry **at = find(s, key, klen, hash_of(key, klen)), *e = *at;
  if (e == NULL) return 0;
  *at = e->next;
  free(e->val);
  free(e);
  s->count--;
  return 1;
}
