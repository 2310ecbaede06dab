/* alloc.c -- every allocation goes through here, so a host can supply its
 * own allocator (and tests can inject failures). */
#include <stdlib.h>
#include <string.h>

#include "base.h"

static void *libc_malloc(size_t size, void *ud) {
  (void)ud;
  return malloc(size);
}
static void *libc_realloc(void *p, size_t size, void *ud) {
  (void)ud;
  return realloc(p, size);
}
static void libc_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static uvrun_allocator_t allocator = {sizeof(uvrun_allocator_t), libc_malloc, libc_realloc, libc_free, NULL};
static atomic_int allocator_locked;

int uvrun_set_allocator(const uvrun_allocator_t *a) {
  if (atomic_load(&allocator_locked))
    return uvr_fail(UVRUN_E_INVALID_STATE, "uvrun_set_allocator() must be called before any other uvrun call");
  if (a == NULL || a->malloc_fn == NULL) {
    allocator.malloc_fn = libc_malloc;
    allocator.realloc_fn = libc_realloc;
    allocator.free_fn = libc_free;
    allocator.ud = NULL;
    return 0;
  }
  if (a->size < sizeof(uvrun_allocator_t) || a->realloc_fn == NULL || a->free_fn == NULL)
    return uvr_fail(UVRUN_E_INVAL, "allocator needs size, malloc_fn, realloc_fn and free_fn");
  allocator = *a;
  return 0;
}

void uvr_alloc_lock(void) { atomic_store_explicit(&allocator_locked, 1, memory_order_relaxed); }

void *uvr_malloc(size_t size) { return allocator.malloc_fn(size, allocator.ud); }

void *uvr_calloc(size_t n, size_t size) {
  void *p;
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  p = allocator.malloc_fn(n * size, allocator.ud);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

void *uvr_realloc(void *ptr, size_t size) { return allocator.realloc_fn(ptr, size, allocator.ud); }

void uvr_free(void *ptr) {
  if (ptr != NULL) allocator.free_fn(ptr, allocator.ud);
}

char *uvr_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = uvr_malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}
