/* store.h -- the server's keys and values: a hash table of byte strings. */
#ifndef RESP_STORE_H
#define RESP_STORE_H

#include <stddef.h>

typedef struct store store;

store *store_new(void);
void store_free(store *s);
/* The value of key, or NULL; *len gets its length. Valid until the key is
 * next written. */
const char *store_get(const store *s, const char *key, size_t klen, size_t *len);
/* 0, or -1 out of memory (the old value stays). */
int store_set(store *s, const char *key, size_t klen, const char *val, size_t vlen);
/* 1 if key was there. */
int store_del(store *s, const char *key, size_t klen);

#endif
