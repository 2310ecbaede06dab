/* context.c -- context variables (R31, X7).
 *
 * A context is a pointer to an immutable map from variable to value. Setting
 * a variable builds a new map and swaps the current context's pointer, so a
 * copy of a context (sharing the old map) never sees the write.
 *
 * CPython keeps the map in a HAMT so that set and copy stay cheap with
 * thousands of variables. Here the map is a sorted array: a program sets a
 * handful of variables, so an O(n) copy-on-write set costs less than a trie's
 * allocations, a lookup is a binary search, and a copy is still O(1) because
 * contexts share the map by reference.
 *
 * Maps cross threads (the executor runs a job in a copy of the submitter's
 * context, X7), so their reference count is atomic. Contexts themselves
 * belong to one thread at a time. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* An owned value's ref/unref travel with it: a map may outlive the variable,
 * and keeps only its id. */
typedef struct uvr_map_entry {
  uint64_t key; /* the variable's id */
  void *value;
  uvrun_ref_fn ref; /* NULL: a borrowed value */
  uvrun_free_fn unref;
} uvr_map_entry;

struct uvr_map {
  atomic_int refs;
  size_t n;                /* never 0: the empty map is NULL */
  uvr_map_entry entries[]; /* sorted by var address */
};

struct uvrun_contextvar_s {
  /* Keys the maps: unique for the process, so a variable freed while some
   * context still held a value for it (misuse) cannot hand that value to a
   * new variable made at the same address. */
  uint64_t id;
  char *name;
  int has_default;
  void *default_value;
  uvrun_ref_fn ref; /* uvrun_contextvar_new_owned() */
  uvrun_free_fn unref;
};

struct uvrun_token_s {
  uvrun_contextvar_t *var;
  const uvrun_context_t *ctx; /* compared, never dereferenced */
  int had_old;
  uvr_map_entry old; /* owns a reference to an owned value */
};

/* The context of a thread that entered none: static storage, so reading a
 * variable never allocates. Values set here live as long as the thread. */
static UVR_TLS_FAST uvrun_context_t base;
static UVR_TLS_FAST uvrun_context_t *current;

/* A thread that set variables in its base context lets go of the map when
 * it exits (a thread-specific key's destructor does it). */
static pthread_key_t base_key;
static uv_once_t base_key_once = UV_ONCE_INIT;
static void release_base(void *arg) {
  uvrun_context_t *ctx = arg;
  uvr_map_unref(ctx->map);
  ctx->map = NULL;
}
static void create_base_key(void) { pthread_key_create(&base_key, release_base); }

static void watch_thread_exit(void) {
  uv_once(&base_key_once, create_base_key);
  if (pthread_getspecific(base_key) == NULL) pthread_setspecific(base_key, &base);
}

/* ---- maps ---- */

uvr_map *uvr_map_ref(uvr_map *map) {
  if (map != NULL) atomic_fetch_add_explicit(&map->refs, 1, memory_order_relaxed);
  return map;
}

static void entry_ref(const uvr_map_entry *e) {
  if (e->ref != NULL) e->ref(e->value);
}
static void entry_unref(const uvr_map_entry *e) {
  if (e->unref != NULL) e->unref(e->value);
}

void uvr_map_unref(uvr_map *map) {
  size_t i;
  if (map == NULL) return;
  if (atomic_fetch_sub_explicit(&map->refs, 1, memory_order_acq_rel) != 1) return;
  for (i = 0; i < map->n; i++) entry_unref(&map->entries[i]);
  uvr_free(map);
}

/* Index of var in map, or of the slot where it would go (*found = 0). */
static size_t map_search(const uvr_map *map, const uvrun_contextvar_t *var, int *found) {
  size_t lo = 0, hi = map != NULL ? map->n : 0;
  uint64_t key = var->id;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t k = map->entries[mid].key;
    if (k == key) {
      *found = 1;
      return mid;
    }
    if (k < key) lo = mid + 1;
    else hi = mid;
  }
  *found = 0;
  return lo;
}

static uvr_map *map_alloc(size_t n) {
  uvr_map *map = uvr_malloc(sizeof *map + n * sizeof map->entries[0]);
  if (map == NULL) return NULL;
  atomic_init(&map->refs, 1);
  map->n = n;
  return map;
}

/* A new map holds a reference to each of its owned values. */
static void map_ref_entries(uvr_map *m) {
  size_t i;
  for (i = 0; i < m->n; i++) entry_ref(&m->entries[i]);
}

/* A new map: map with var set to value. 0 or UVRUN_E_NOMEM. */
static int map_with(const uvr_map *map, const uvrun_contextvar_t *var, void *value, uvr_map **out) {
  int found;
  size_t n = map != NULL ? map->n : 0;
  size_t i = map_search(map, var, &found);
  size_t tail = found ? i + 1 : i; /* the first old entry after var */
  uvr_map *m = map_alloc(found ? n : n + 1);
  if (m == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  if (i > 0) memcpy(m->entries, map->entries, i * sizeof m->entries[0]);
  m->entries[i].key = var->id;
  m->entries[i].value = value;
  m->entries[i].ref = var->ref;
  m->entries[i].unref = var->unref;
  if (tail < n) memcpy(&m->entries[i + 1], &map->entries[tail], (n - tail) * sizeof m->entries[0]);
  map_ref_entries(m);
  *out = m;
  return 0;
}

/* A new map: map without var (NULL when that leaves it empty). */
static int map_without(uvr_map *map, const uvrun_contextvar_t *var, uvr_map **out) {
  int found;
  size_t i = map_search(map, var, &found);
  uvr_map *m;
  if (!found) {
    *out = uvr_map_ref(map);
    return 0;
  }
  if (map->n == 1) {
    *out = NULL;
    return 0;
  }
  m = map_alloc(map->n - 1);
  if (m == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  memcpy(m->entries, map->entries, i * sizeof m->entries[0]);
  memcpy(&m->entries[i], &map->entries[i + 1], (map->n - i - 1) * sizeof m->entries[0]);
  map_ref_entries(m);
  *out = m;
  return 0;
}

/* What var holds in map, falling back to its default. Allocates nothing. */
static int map_get(const uvr_map *map, const uvrun_contextvar_t *var, void **value) {
  int found;
  size_t i = map_search(map, var, &found);
  if (found) {
    *value = map->entries[i].value;
    return 0;
  }
  if (var->has_default) {
    *value = var->default_value;
    return 0;
  }
  /* LookupError(var) in CPython; its text is the variable's repr. */
  return uvr_fail(UVRUN_E_NOTFOUND, "<ContextVar name='%s'>", var->name);
}

/* ---- contexts ---- */

uvrun_context_t *uvr_context_current(void) { return current != NULL ? current : &base; }

void uvr_context_enter(uvrun_context_t *ctx) {
  ctx->prev = uvr_context_current(); /* never NULL: marks ctx entered */
  current = ctx;
}

void uvr_context_exit(uvrun_context_t *ctx) {
  current = ctx->prev;
  ctx->prev = NULL;
}

void uvr_scope_enter(uvrun_context_t *scope, uvr_map *map) {
  scope->map = uvr_map_ref(map);
  scope->prev = NULL;
  uvr_context_enter(scope);
}

void uvr_scope_exit(uvrun_context_t *scope) {
  uvr_context_exit(scope);
  uvr_map_unref(scope->map); /* the original, or what the code set */
}

void uvr_call_in_map(uvr_map *map, uvrun_callback_fn fn, void *ud) {
  uvrun_context_t scope;
  uvr_scope_enter(&scope, map);
  fn(ud);
  uvr_scope_exit(&scope);
}

int uvrun_context_new(uvrun_context_t **out) {
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "uvrun_context_new: out is NULL");
  *out = uvr_calloc(1, sizeof **out);
  return *out != NULL ? 0 : uvr_fail(UVRUN_E_NOMEM, "out of memory");
}

int uvrun_context_copy_current(uvrun_context_t **out) { return uvrun_context_copy(uvr_context_current(), out); }

int uvrun_context_copy(const uvrun_context_t *ctx, uvrun_context_t **out) {
  if (ctx == NULL || out == NULL)
    return uvr_fail(UVRUN_E_INVAL, "uvrun_context_copy: %s is NULL", ctx == NULL ? "ctx" : "out");
  *out = uvr_calloc(1, sizeof **out);
  if (*out == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  (*out)->map = uvr_map_ref(ctx->map); /* shared: O(1) */
  return 0;
}

void uvrun_context_free(uvrun_context_t *ctx) {
  if (ctx == NULL) return;
  /* Freeing it would leave a dangling `current`: refuse, loudly. */
  if (ctx->prev != NULL) {
    uvr_logf(UVRUN_LOG_ERROR, "uvrun_context_free: context %p is entered; not freed", (void *)ctx);
    return;
  }
  uvr_map_unref(ctx->map);
  uvr_free(ctx);
}

int uvrun_context_run(uvrun_context_t *ctx, uvrun_callback_fn fn, void *ud) {
  if (ctx == NULL || fn == NULL)
    return uvr_fail(UVRUN_E_INVAL, "uvrun_context_run: %s is NULL", ctx == NULL ? "ctx" : "fn");
  if (ctx->prev != NULL)
    return uvr_fail(UVRUN_E_CONTEXT_ENTERED, "cannot enter context: <Context at %p> is already entered", (void *)ctx);
  uvr_context_enter(ctx);
  fn(ud);
  uvr_context_exit(ctx);
  return 0;
}

/* Reads as uvrun_contextvar_get() would inside ctx: with the default. */
int uvrun_context_get(const uvrun_context_t *ctx, const uvrun_contextvar_t *var, void **value) {
  if (ctx == NULL || var == NULL || value == NULL)
    return uvr_fail(UVRUN_E_INVAL, "uvrun_context_get: %s is NULL",
                    ctx == NULL   ? "ctx"
                    : var == NULL ? "var"
                                  : "value");
  return map_get(ctx->map, var, value);
}

/* ---- variables ---- */

int uvrun_contextvar_new(const char *name, int has_default, void *default_value, uvrun_contextvar_t **out) {
  return uvrun_contextvar_new_owned(name, has_default, default_value, NULL, NULL, out);
}

static atomic_uint_fast64_t next_var_id = 1;

int uvrun_contextvar_new_owned(const char *name, int has_default, void *default_value, uvrun_ref_fn ref,
                               uvrun_free_fn unref, uvrun_contextvar_t **out) {
  uvrun_contextvar_t *var;
  if (name == NULL || out == NULL)
    return uvr_fail(UVRUN_E_INVAL, "uvrun_contextvar_new: %s is NULL", name == NULL ? "name" : "out");
  var = uvr_malloc(sizeof *var);
  if (var == NULL) goto nomem;
  var->id = atomic_fetch_add_explicit(&next_var_id, 1, memory_order_relaxed);
  var->name = uvr_strdup(name);
  if (var->name == NULL) goto nomem;
  var->has_default = has_default != 0;
  var->default_value = default_value;
  var->ref = ref;
  var->unref = unref;
  *out = var;
  return 0;

nomem:
  uvr_free(var);
  return uvr_fail(UVRUN_E_NOMEM, "out of memory");
}

void uvrun_contextvar_free(uvrun_contextvar_t *var) {
  if (var == NULL) return;
  uvr_free(var->name);
  uvr_free(var);
}

const char *uvrun_contextvar_name(const uvrun_contextvar_t *var) { return var != NULL ? var->name : NULL; }

int uvrun_contextvar_get(const uvrun_contextvar_t *var, void **value) {
  if (var == NULL || value == NULL)
    return uvr_fail(UVRUN_E_INVAL, "uvrun_contextvar_get: %s is NULL", var == NULL ? "var" : "value");
  return map_get(uvr_context_current()->map, var, value);
}

int uvrun_contextvar_set(uvrun_contextvar_t *var, void *value, uvrun_token_t **token) {
  uvrun_context_t *ctx = uvr_context_current();
  uvrun_token_t *tok = NULL;
  uvr_map *map;
  int found, rc;
  size_t i;

  if (var == NULL) return uvr_fail(UVRUN_E_INVAL, "uvrun_contextvar_set: var is NULL");
  /* The token first: a failure must leave the variable unchanged. */
  if (token != NULL) {
    tok = uvr_malloc(sizeof *tok);
    if (tok == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
    i = map_search(ctx->map, var, &found);
    tok->var = var;
    tok->ctx = ctx;
    tok->had_old = found;
    if (found) {
      tok->old = ctx->map->entries[i];
      entry_ref(&tok->old);
    } else {
      memset(&tok->old, 0, sizeof tok->old);
    }
  }
  rc = map_with(ctx->map, var, value, &map);
  if (rc < 0) {
    uvrun_token_free(tok);
    return rc;
  }
  uvr_map_unref(ctx->map);
  ctx->map = map;
  if (ctx == &base) watch_thread_exit();
  if (token != NULL) *token = tok;
  return 0;
}

int uvrun_contextvar_reset(uvrun_contextvar_t *var, uvrun_token_t *token) {
  uvrun_context_t *ctx = uvr_context_current();
  uvr_map *map;
  int rc;

  /* A token is single-use by construction: reset frees it whatever happens,
   * so UVRUN_E_TOKEN_USED is left to wrappers that keep a token object. */
  if (var == NULL || token == NULL) {
    rc = uvr_fail(UVRUN_E_INVAL, "uvrun_contextvar_reset: %s is NULL", var == NULL ? "var" : "token");
    goto out;
  }
  if (token->var != var) {
    rc = uvr_fail(UVRUN_E_TOKEN_MISMATCH, "Token was created by a different ContextVar");
    goto out;
  }
  if (token->ctx != ctx) {
    rc = uvr_fail(UVRUN_E_TOKEN_MISMATCH, "Token was created in a different Context");
    goto out;
  }
  if (token->had_old) rc = map_with(ctx->map, var, token->old.value, &map);
  else rc = map_without(ctx->map, var, &map);
  if (rc < 0) goto out;
  uvr_map_unref(ctx->map);
  ctx->map = map;

out:
  uvrun_token_free(token);
  return rc;
}

void uvrun_token_free(uvrun_token_t *token) {
  if (token == NULL) return;
  entry_unref(&token->old);
  uvr_free(token);
}
