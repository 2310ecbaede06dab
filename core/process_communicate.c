/* process_communicate.c -- P3: communicate(input) as asyncio's: feed stdin
 * and close it, read stdout and stderr to their ends, wait for the child --
 * four parts at once, so a child blocked writing one pipe while nobody reads
 * it cannot happen.
 *
 * Each part is a future of the stream and process API whose done callback
 * (holding the communicate future) starts the next read or counts the part
 * done. A broken stdin is not an error (asyncio ignores BrokenPipeError and
 * ConnectionResetError there): the close that follows the input completes
 * either way. Cancelling, a failed read or an comm_output past its limit closes
 * the pipes; the child is left to wait, kill, or the runner's close. */
#include <stdio.h>
#include <string.h>

#include "process.h"

/* Room a read of a pipe gets at least: the stream's own default buffer. */
#define COMM_READ_ROOM (64 * 1024)

enum { PART_STDIN, PART_STDOUT, PART_STDERR, PART_WAIT, NPARTS };

typedef struct comm_output {
  char *data;
  size_t len, cap;
  uint64_t limit; /* 0: none */
  uint8_t piped;
} comm_output;

struct uvrun_process_result_s {
  comm_output out, err;
  int returncode;
};

typedef struct comm_state {
  uvrun_process_t *proc;        /* reference */
  uvrun_future_t *part[NPARTS]; /* the pending part futures (references) */
  int left;                     /* parts not done yet */
  uvrun_process_result_t result;
} comm_state;

static comm_state *comm_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

void uvrun_communicate_opts_init(uvrun_communicate_opts_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
}

/* ---- the result ---- */

static const char *comm_output_bytes(const comm_output *o, size_t *len) {
  if (len != NULL) *len = o->piped ? o->len : 0;
  if (!o->piped) return NULL;
  return o->data != NULL ? o->data : "";
}

const char *uvrun_process_result_stdout(const uvrun_process_result_t *result, size_t *len) {
  if (result == NULL) {
    if (len != NULL) *len = 0;
    return NULL;
  }
  return comm_output_bytes(&result->out, len);
}

const char *uvrun_process_result_stderr(const uvrun_process_result_t *result, size_t *len) {
  if (result == NULL) {
    if (len != NULL) *len = 0;
    return NULL;
  }
  return comm_output_bytes(&result->err, len);
}

int uvrun_process_result_returncode(const uvrun_process_result_t *result) {
  return result != NULL ? result->returncode : uvr_fail(UVRUN_E_INVAL, "result must not be NULL");
}

static void comm_result_free(void *ptr) {
  uvrun_process_result_t *result = ptr;
  uvr_free(result->out.data);
  uvr_free(result->err.data);
  uvr_free(result);
}

/* ---- ending ---- */

/* The parts still out are cancelled; their callbacks then find the
 * communicate done. */
static void comm_cancel_parts(comm_state *c) {
  int i;
  for (i = 0; i < NPARTS; i++)
    if (c->part[i] != NULL) uvrun_future_cancel(c->part[i], NULL);
}

/* Ends early (cancelled, failed): the pipes close too. */
static void comm_tear_down(comm_state *c) {
  int i;
  for (i = 0; i < 3; i++) {
    uvrun_stream_t *pipe = uvrun_process_stdio(c->proc, i);
    if (pipe != NULL) uvrun_stream_abort(pipe);
  }
  comm_cancel_parts(c);
}

static void comm_fail(uvrun_future_t *fut, uvrun_error_t *err) {
  uvrun_future_set_error(fut, err);
  comm_tear_down(comm_of(fut));
}

/* Every part is done: the outputs move into the result. */
static void comm_succeed(uvrun_future_t *fut) {
  comm_state *c = comm_of(fut);
  uvrun_process_result_t *result = uvr_malloc(sizeof *result);
  if (result == NULL) {
    comm_fail(fut, uvr_error_make(UVRUN_E_NOMEM, "out of memory"));
    return;
  }
  *result = c->result;
  memset(&c->result.out, 0, sizeof c->result.out);
  memset(&c->result.err, 0, sizeof c->result.err);
  uvrun_future_set_result(fut, result, comm_result_free);
}

/* ---- the parts ---- */

static void comm_on_part_done(uvrun_future_t *part, void *ud);

/* Watches part as number i; a part that cannot comm_start fails the whole. */
static int comm_watch(uvrun_future_t *fut, int i, uvrun_future_t *part) {
  comm_state *c = comm_of(fut);
  if (part == NULL) return uvr_last_code();
  c->part[i] = part;
  if (uvrun_future_add_done_callback_owned(part, comm_on_part_done, uvrun_future_ref(fut), uvr_io_future_drop) < 0) {
    uvrun_future_unref(fut);
    return uvr_last_code();
  }
  return 0;
}

/* The next read of stdout (1) or stderr (2) into the comm_output's free room,
 * at most one byte past its limit, so that an overrun shows. */
static int comm_read_more(uvrun_future_t *fut, int i) {
  comm_state *c = comm_of(fut);
  comm_output *o = i == PART_STDOUT ? &c->result.out : &c->result.err;
  size_t room = COMM_READ_ROOM;
  if (o->limit != 0 && o->limit + 1 - o->len < room) room = (size_t)(o->limit + 1 - o->len);
  if (o->cap - o->len < room) {
    size_t cap = o->cap * 2 > o->len + room ? o->cap * 2 : o->len + room;
    char *data = uvr_realloc(o->data, cap);
    if (data == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
    o->data = data;
    o->cap = cap;
  }
  return comm_watch(fut, i, uvrun_stream_read(uvrun_process_stdio(c->proc, i), o->data + o->len, room));
}

/* A read came back: more bytes, the end, or too many. */
static int comm_read_done(uvrun_future_t *fut, int i, size_t n) {
  comm_state *c = comm_of(fut);
  comm_output *o = i == PART_STDOUT ? &c->result.out : &c->result.err;
  char msg[96];
  if (n == 0) return 1;
  o->len += n;
  if (o->limit != 0 && o->len > o->limit) {
    snprintf(msg, sizeof msg, "the child's %s went past its limit of %llu bytes",
             i == PART_STDOUT ? "stdout" : "stderr", (unsigned long long)o->limit);
    comm_fail(fut, uvr_error_make(UVRUN_E_LIMIT_OVERRUN, msg));
    return 0;
  }
  if (comm_read_more(fut, i) < 0) comm_fail(fut, uvrun_take_error());
  return 0;
}

static void comm_on_part_done(uvrun_future_t *part, void *ud) {
  uvrun_future_t *fut = ud;
  comm_state *c = comm_of(fut);
  void *value = NULL;
  int i, rc, done = 1;
  for (i = 0; i < NPARTS && c->part[i] != part; i++) continue;
  if (i == NPARTS) { /* not ours any more */
    uvrun_future_unref(fut);
    return;
  }
  c->part[i] = NULL;
  rc = uvrun_future_result(part, &value); /* a read consumes its bytes */
  if (fut->state != UVR_PENDING) {
    /* Ended already: what comes back now is dropped. */
  } else if (rc < 0) {
    comm_fail(fut, uvrun_error_ref(uvrun_future_error(part)));
  } else {
    if (i == PART_WAIT) c->result.returncode = (int)(intptr_t)value;
    if (i == PART_STDOUT || i == PART_STDERR) done = comm_read_done(fut, i, (size_t)(uintptr_t)value);
    if (done && --c->left == 0) comm_succeed(fut);
  }
  uvrun_future_unref(part);
  uvrun_future_unref(fut); /* the reference this callback held */
}

/* ---- the future ---- */

static int comm_cancel(uvrun_future_t *fut, const char *msg) {
  int cancelled = uvr_future_cancel_plain(fut, msg);
  if (cancelled) comm_tear_down(comm_of(fut));
  return cancelled;
}

static void comm_free(uvrun_future_t *fut) {
  comm_state *c = comm_of(fut);
  int i;
  for (i = 0; i < NPARTS; i++) uvrun_future_unref(c->part[i]);
  uvr_free(c->result.out.data);
  uvr_free(c->result.err.data);
  uvrun_process_unref(c->proc);
}

static const uvr_io_kind comm_kind = {"communicate", comm_cancel, comm_free, NULL};

/* stdin gets the input, then closes: its part is done when it is closed.
 * A child that stopped reading makes the write fail, which is no error. */
static int comm_feed_stdin(uvrun_future_t *fut, uvrun_stream_t *in, const void *input, size_t len) {
  int rc = len > 0 ? uvrun_stream_write(in, input, len) : 0;
  if (rc < 0 && rc != UV_EPIPE && rc != UV_ECONNRESET) return rc;
  if ((rc = uvrun_stream_close(in)) < 0) return rc;
  return comm_watch(fut, PART_STDIN, uvrun_stream_wait_closed(in));
}

static int comm_start(uvrun_future_t *fut, const void *input, size_t len) {
  comm_state *c = comm_of(fut);
  uvrun_stream_t *in = uvrun_process_stdio(c->proc, 0);
  int i, rc;
  if (in != NULL && (rc = comm_feed_stdin(fut, in, input, len)) < 0) return rc;
  for (i = PART_STDOUT; i <= PART_STDERR; i++)
    if (uvrun_process_stdio(c->proc, i) != NULL && (rc = comm_read_more(fut, i)) < 0) return rc;
  return comm_watch(fut, PART_WAIT, uvrun_process_wait(c->proc));
}

uvrun_future_t *uvrun_process_communicate(uvrun_process_t *proc, const void *input, size_t len,
                                          const uvrun_communicate_opts_t *opts) {
  uvrun_communicate_opts_t o;
  uvrun_future_t *fut;
  comm_state *c;
  int i, rc;
  uvrun_communicate_opts_init(&o);
  if (opts != NULL) {
    if (opts->size < sizeof opts->size) {
      uvr_fail(UVRUN_E_INVAL, "opts->size must be set (uvrun_communicate_opts_init)");
      return NULL;
    }
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
  }
  if (proc == NULL || (input == NULL && len > 0)) {
    uvr_fail(UVRUN_E_INVAL, "communicate needs a process, and input for len > 0");
    return NULL;
  }
  if (uvr_io_check_loop(uvrun_process_loop(proc), "uvrun_process_communicate") < 0) return NULL;
  if (len > 0 && uvrun_process_stdio(proc, 0) == NULL) {
    uvr_fail(UVRUN_E_INVAL, "communicate with input needs the child's stdin as a pipe");
    return NULL;
  }
  if ((fut = uvr_io_future_new(uvrun_process_loop(proc), &comm_kind, sizeof *c)) == NULL) return NULL;
  c = comm_of(fut);
  c->proc = uvrun_process_ref(proc);
  c->result.out.limit = o.stdout_limit;
  c->result.err.limit = o.stderr_limit;
  c->left = 2; /* stdin, wait */
  for (i = PART_STDOUT; i <= PART_STDERR; i++) {
    comm_output *out = i == PART_STDOUT ? &c->result.out : &c->result.err;
    out->piped = uvrun_process_stdio(proc, i) != NULL;
    c->left += out->piped;
  }
  if (uvrun_process_stdio(proc, 0) == NULL) c->left--;
  if ((rc = comm_start(fut, input, len)) < 0) {
    /* Refused (a read already waits on a pipe, say): the pipes stay as
     * they are for the communicate or reader that has them. */
    uvrun_error_t *err = uvrun_take_error();
    uvr_future_cancel_plain(fut, NULL);
    comm_cancel_parts(c);
    uvrun_future_unref(fut);
    if (err != NULL) uvr_fail_error(err);
    else uvr_fail(rc, "out of memory");
    return NULL;
  }
  return fut;
}
