/* resp.c -- RESP2 parsing and replies. */
#include "resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number on a "*N\r\n" or "$N\r\n" line at in[0..len): 1 and *at past
 * the line, 0 incomplete, -1 not a number. */
static int number_line(const char *in, size_t len, size_t *at, long long *value) {
  const char *end = memchr(in + *at, '\r', len - *at), *p = in + *at + 1;
  long long v = 0;
  int neg = 0;
  if (end == NULL || (size_t)(end - in) + 1 >= len) return len - *at > 32 ? -1 : 0;
  if (end[1] != '\n') return -1;
  if (p < end && *p == '-') {
    neg = 1;
    p++;
  }
  if (p == end || end - p > 18) return -1;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  *value = neg ? -v : v;
  *at = (size_t)(end - in) + 2;
  return 1;
}

static int push_arg(resp_args *args, const char *p, size_t n) {
  if (args->n == args->cap) {
    size_t cap = args->cap ? args->cap * 2 : 8;
    resp_arg *v = realloc(args->v, cap * sizeof *v);
    if (v == NULL) return -1;
    args->v = v;
    args->cap = cap;
  }
  args->v[args->n].p = p;
  args->v[args->n++].n = n;
  return 0;
}

static int parse_inline(const char *in, size_t len, resp_args *args, size_t *used, const char **err) {
  const char *nl = memchr(in, '\n', len), *p = in, *end;
  if (nl == NULL) return 0;
  end = nl > in && nl[-1] == '\r' ? nl - 1 : nl;
  while (p < end) {
    const char *word;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p == end) break;
    word = p;
    while (p < end && *p != ' ' && *p != '\t') p++;
    if (push_arg(args, word, (size_t)(p - word)) < 0) {
      *err = "out of memory";
      return -1;
    }
  }
  *used = (size_t)(nl - in) + 1;
  return 1;
}

int resp_parse(const char *in, size_t len, size_t max_bulk, resp_args *args, size_t *used, const char **err) {
  size_t at = 0;
  long long n, i, blen;
  int rc;
  args->n = 0;
  if (len == 0) return 0;
  if (in[0] != '*') return parse_inline(in, len, args, used, err);
  if ((rc = number_line(in, len, &at, &n)) <= 0) {
    *err = "Protocol error: invalid multibulk length";
    return rc;
  }
  if (n < 0 || (unsigned long long)n > max_bulk) {
    *err = "Protocol error: invalid multibulk length";
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (at >= len) return 0;
    if (in[at] != '$') {
      *err = "Protocol error: expected '$'";
      return -1;
    }
    if ((rc = number_line(in, len, &at, &blen)) <= 0) {
      *err = "Protocol error: invalid bulk length";
      return rc;
    }
    if (blen < 0 || (unsigned long long)blen > max_bulk) {
      *err = "Protocol error: invalid bulk length";
      return -1;
    }
    if (len - at < (size_t)blen + 2) return 0;
    if (in[at + (size_t)blen] != '\r' || in[at + (size_t)blen + 1] != '\n') {
      *err = "Protocol error: bulk string not followed by CRLF";
      return -1;
    }
    if (push_arg(args, in + at, (size_t)blen) < 0) {
      *err = "out of memory";
      return -1;
    }
    at += (size_t)blen + 2;
  }
  *used = at;
  return 1;
}

void resp_args_free(resp_args *args) {
  free(args->v);
  args->v = NULL;
  args->n = args->cap = 0;
}

static char *room(resp_out *o, size_t n) {
  if (o->cap - o->n < n) {
    size_t cap = o->cap ? o->cap : 4096;
    char *p;
    while (cap - o->n < n) cap *= 2;
    if ((p = realloc(o->p, cap)) == NULL) {
      o->oom = 1;
      return NULL;
    }
    o->p = p;
    o->cap = cap;
  }
  return o->p + o->n;
}

static void put(resp_out *o, const char *p, size_t n) {
  char *at = room(o, n);
  if (at == NULL) return;
  memcpy(at, p, n);
  o->n += n;
}

static void putf(resp_out *o, const char *fmt, va_list ap) {
  char line[256];
  int n = vsnprintf(line, sizeof line, fmt, ap);
  if (n < 0) return;
  put(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* A type byte, a number and CRLF, without printf: a reply is mostly these,
 * and vsnprintf cost more than the rest of a SET together. */
static void number(resp_out *o, char type, long long v) {
  char line[24], *p = line + sizeof line;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  *--p = '\n';
  *--p = '\r';
  do *--p = (char)('0' + u % 10);
  while ((u /= 10) > 0);
  if (v < 0) *--p = '-';
  *--p = type;
  put(o, p, (size_t)(line + sizeof line - p));
}

void resp_simple(resp_out *o, const char *s) {
  put(o, "+", 1);
  put(o, s, strlen(s));
  put(o, "\r\n", 2);
}

void resp_error(resp_out *o, const char *fmt, ...) {
  va_list ap;
  put(o, "-", 1);
  va_start(ap, fmt);
  putf(o, fmt, ap);
  va_end(ap);
  put(o, "\r\n", 2);
}

void resp_int(resp_out *o, long long v) { number(o, ':', v); }

void resp_bulk(resp_out *o, const char *p, size_t n) {
  number(o, '$', (long long)n);
  put(o, p, n);
  put(o, "\r\n", 2);
}

void resp_nil(resp_out *o) { put(o, "$-1\r\n", 5); }

void resp_array(resp_out *o, size_t n) { number(o, '*', (long long)n); }
