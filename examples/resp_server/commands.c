/* commands.c -- PING, ECHO, GET, SET, DEL, INCR, EXISTS, QUIT (and the
 * CONFIG GET that redis-benchmark sends at start-up, answered empty). */
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is(const resp_arg *a, const char *name) {
  return a->n == strlen(name) && strncasecmp(a->p, name, a->n) == 0;
}

/* A command name fit to quote in an error line: printable, bounded. */
static void quoted(const resp_arg *a, char *buf, size_t len) {
  size_t i, n = a->n < len - 1 ? a->n : len - 1;
  for (i = 0; i < n; i++) buf[i] = isprint((unsigned char)a->p[i]) ? (char)tolower((unsigned char)a->p[i]) : '?';
  buf[n] = '\0';
}

static int wrong_arity(resp_out *out, const resp_arg *name) {
  char q[64];
  quoted(name, q, sizeof q);
  resp_error(out, "ERR wrong number of arguments for '%s' command", q);
  return 0;
}

/* The integer a value spells exactly (Redis's rule: no spaces, no '+'). */
static int to_integer(const char *p, size_t n, long long *v) {
  char buf[24], *end;
  if (n == 0 || n >= sizeof buf || p[0] == '+' || isspace((unsigned char)p[0])) return -1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  errno = 0;
  *v = strtoll(buf, &end, 10);
  return errno != 0 || *end != '\0' ? -1 : 0;
}

static void incr(store *db, const resp_arg *key, resp_out *out) {
  size_t len = 0;
  const char *old = store_get(db, key->p, key->n, &len);
  long long v = 0;
  char text[24];
  int n;
  if (old != NULL && to_integer(old, len, &v) < 0) {
    resp_error(out, "ERR value is not an integer or out of range");
    return;
  }
  if (v == LLONG_MAX) {
    resp_error(out, "ERR increment or decrement would overflow");
    return;
  }
  n = snprintf(text, sizeof text, "%lld", ++v);
  if (store_set(db, key->p, key->n, text, (size_t)n) < 0) {
    resp_error(out, "ERR out of memory");
    return;
  }
  resp_int(out, v);
}

static void count_keys(store *db, const resp_args *args, int del, resp_out *out) {
  long long n = 0;
  size_t i, len;
  for (i = 1; i < args->n; i++)
    n += del ? store_del(db, args->v[i].p, args->v[i].n) : store_get(db, args->v[i].p, args->v[i].n, &len) != NULL;
  resp_int(out, n);
}

int command_run(store *db, const resp_args *args, resp_out *out) {
  const resp_arg *a = args->v, *name = &a[0];
  size_t argc = args->n, len;
  const char *val;
  char q[64];
  if (argc == 0) return 0; /* an empty inline line: Redis ignores it */
  if (is(name, "ping")) {
    if (argc > 2) return wrong_arity(out, name);
    if (argc == 2) resp_bulk(out, a[1].p, a[1].n);
    else resp_simple(out, "PONG");
  } else if (is(name, "echo")) {
    if (argc != 2) return wrong_arity(out, name);
    resp_bulk(out, a[1].p, a[1].n);
  } else if (is(name, "get")) {
    if (argc != 2) return wrong_arity(out, name);
    if ((val = store_get(db, a[1].p, a[1].n, &len)) != NULL) resp_bulk(out, val, len);
    else resp_nil(out);
  } else if (is(name, "set")) {
    if (argc < 3) return wrong_arity(out, name);
    if (argc > 3) resp_error(out, "ERR syntax error");
    else if (store_set(db, a[1].p, a[1].n, a[2].p, a[2].n) < 0) resp_error(out, "ERR out of memory");
    else resp_simple(out, "OK");
  } else if (is(name, "del") || is(name, "exists")) {
    if (argc < 2) return wrong_arity(out, name);
    count_keys(db, args, is(name, "del"), out);
  } else if (is(name, "incr")) {
    if (argc != 2) return wrong_arity(out, name);
    incr(db, &a[1], out);
  } else if (is(name, "quit")) {
    resp_simple(out, "OK");
    return 1;
  } else if (is(name, "config") && argc == 3 && is(&a[1], "get")) {
    resp_array(out, 0);
  } else {
    quoted(name, q, sizeof q);
    resp_error(out, "ERR unknown command '%s'", q);
  }
  return 0;
}
