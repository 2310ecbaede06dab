/* resp.h -- the Redis protocol (RESP2): requests in, replies out. */
#ifndef RESP_RESP_H
#define RESP_RESP_H

#include <stddef.h>

typedef struct {
  const char *p;
  size_t n;
} resp_arg;

/* A request's arguments, pointing into the input buffer. */
typedef struct {
  resp_arg *v;
  size_t n, cap;
} resp_args;

/* Parses one request at in[0..len): an array of bulk strings (what clients
 * send) or an inline command ("PING\r\n", what nc sends). 1: a request,
 * whose bytes (*used) the caller then drops; 0: incomplete; -1: a protocol
 * error, *err says which (the connection must close). Bulk strings longer
 * than max_bulk are an error. */
int resp_parse(const char *in, size_t len, size_t max_bulk, resp_args *args, size_t *used, const char **err);
void resp_args_free(resp_args *args);

/* Replies are appended to a growable buffer; out of memory sets oom. */
typedef struct {
  char *p;
  size_t n, cap;
  int oom;
} resp_out;

void resp_simple(resp_out *o, const char *s); /* "+OK" */
void resp_error(resp_out *o, const char *fmt, ...);
void resp_int(resp_out *o, long long v);
void resp_bulk(resp_out *o, const char *p, size_t n);
void resp_nil(resp_out *o);
void resp_array(resp_out *o, size_t n);

#endif
