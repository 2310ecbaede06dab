/* io.h -- what the I/O files share: streams, servers, connects, lookups.
 * Nothing here is API (that is uvrun_io.h). */
#ifndef UVRUN_IO_INTERNAL_H
#define UVRUN_IO_INTERNAL_H

#include "internal.h"
#include "uvrun_io.h"

/* ---- io_future.c: futures whose kind is an I/O operation ----
 * A future of kind UVR_FUT_IO carries the operation's state after a pointer
 * to its uvr_io_kind, which says how it is cancelled, freed and taken. */
typedef struct uvr_io_kind {
  const char *name;                                    /* in reports: "read" */
  int (*cancel)(uvrun_future_t *fut, const char *msg); /* NULL: as a plain future */
  void (*on_free)(uvrun_future_t *fut);                /* NULL: nothing to release */
  void (*take)(uvrun_future_t *fut);                   /* NULL: nothing to commit */
} uvr_io_kind;
/* NULL on failure (recorded). The state (state_size bytes) is zeroed. */
uvrun_future_t *uvr_io_future_new(uvrun_loop_t *loop, const uvr_io_kind *kind, size_t state_size);
void *uvr_io_future_state(const uvrun_future_t *fut);
const uvr_io_kind *uvr_io_future_kind(const uvrun_future_t *fut);
/* uvrun_future_unref as a uvrun_free_fn: the drop of a done callback that
 * holds a future. */
void uvr_io_future_drop(void *fut);
/* A system error's text as libuv words it ("no such file or directory"):
 * uvrun_strerror() would give -ENOENT's other meaning, UVRUN_E_NOTFOUND's.
 * uvrun's own codes get their own text. */
const char *uvr_io_strerror(int code, char *buf, size_t len);
/* A failed read's or write's message, "write failed: connection timed out
 * (ETIMEDOUT)", in buf: a system error's text and name as libuv's, not
 * those of the uvrun code sharing its value (UVRUN_E_TIMEDOUT). */
const char *uvr_io_failure(const char *what, int code, char *buf, size_t len);
/* An I/O call's loop: not NULL, open and, in debug mode, this thread's. 0
 * or the error (recorded); `what` names the call. */
int uvr_io_check_loop(uvrun_loop_t *loop, const char *what);
/* An info call's start (streams, servers, UDP): `size` (the caller's
 * struct's first field) not NULL and set; `all` zeroed, its size field the
 * smaller of the two sizes, to be copied back that long. 0 or the error
 * (recorded). */
int uvr_io_info_start(const uint32_t *size, void *all, size_t all_size);

/* ---- waiters (stream.c) ----
 * Futures waiting for one event of an object (a stream's drain, shutdown,
 * close; a UDP socket's drain), linked through their state. The list does
 * not hold them: a future freed while it waits leaves the list. */
typedef struct uvr_waiters {
  uvrun_future_t *head;
} uvr_waiters;
/* A pending future on `list`, holding `owner` (a reference taken by the
 * caller) until it is freed, then release(owner); NULL on failure
 * (recorded, owner released). */
uvrun_future_t *uvr_waiter_new_on(uvrun_loop_t *loop, uvr_waiters *list, void *owner, void (*release)(void *owner));
/* Every future on list is done: with a NULL result (code 0) or the error
 * (code, message). */
void uvr_waiters_settle(uvr_waiters *list, int code, const char *message);

/* ---- stream.c: a stream's life ---- */
/* A stream with an initialized, unconnected handle of `type` (UV_TCP or
 * UV_NAMED_PIPE), registered with its loop; NULL on failure (recorded). */
uvrun_stream_t *uvr_stream_new(uvrun_loop_t *loop, uv_handle_type type, const uvrun_stream_opts_t *opts);
/* A TTY's stream on fd (uv_tty_init: libuv may reopen the device). */
uvrun_stream_t *uvr_stream_new_tty(uvrun_loop_t *loop, int fd, const uvrun_stream_opts_t *opts);
uv_stream_t *uvr_stream_handle(uvrun_stream_t *stream);
/* Closes a stream that never became the caller's, without a report. */
void uvr_stream_discard(uvrun_stream_t *stream);
/* The handle is connected (connect or accept): the options apply. 0 or a
 * negative code (recorded). */
int uvr_stream_connected(uvrun_stream_t *stream);
/* Loop close (L1): aborts every stream still open; 1 if any was. */
int uvr_streams_abort_all(uvrun_loop_t *loop);
/* Debug mode: " created by task 'name' at site" for the current task, to
 * name in an unclosed report; NULL outside a task (or without memory). */
char *uvr_io_origin(uvrun_loop_t *loop);
/* fn(ud) runs once the handle has closed, while the stream's memory is
 * still there (a server counts its open connections, V7); fn NULL: none.
 * One per stream. */
void uvr_stream_on_closed(uvrun_stream_t *stream, void (*fn)(void *ud), void *ud);
/* Fills opts from `given` (NULL: defaults), checking it. */
int uvr_stream_opts_from(const uvrun_stream_opts_t *given, uvrun_stream_opts_t *opts);

/* ---- fs_file.c ---- */
/* Loop close (L1): closes every open file not closed, reported in debug
 * mode; a descriptor a job still uses is closed when that job ends. */
void uvr_files_close_all(uvrun_loop_t *loop);

/* ---- dns.c ---- */
/* uvrun_getaddrinfo with getaddrinfo's AI_* flags, unchecked. */
uvrun_future_t *uvr_getaddrinfo(uvrun_loop_t *loop, const char *host, const char *service, int family, int socktype,
                                int flags);
/* The socket address of an entry of a getaddrinfo result. */
const struct sockaddr *uvr_address_sockaddr(const uvrun_address_t *a);

/* ---- address.c ---- */
/* A numeric IPv4 or IPv6 address (with an IPv6 "%scope"), and port: 0, or
 * UV_EINVAL when host is not one. */
int uvr_parse_ip(const char *host, int port, struct sockaddr_storage *sa);
/* "127.0.0.1:80", "[::1]:80": an IP socket address for messages. */
void uvr_address_name(const struct sockaddr *sa, char *buf, size_t len);
/* A Unix socket's address: a path, or "@name" for Linux's abstract
 * namespace. 0, or UVRUN_E_INVAL (recorded) for an empty or too long one. */
struct sockaddr_un;
int uvr_unix_address(const char *path, struct sockaddr_un *sun, socklen_t *len);

/* ---- stream_read.c ---- */
/* The loop's buffer libuv reads into (streams, UDP), made on first use;
 * NULL when out of memory. */
char *uvr_read_scratch(uvrun_loop_t *loop, size_t *size);
/* Loop close: frees the buffer the loop's streams read into. */
void uvr_streams_free_scratch(uvrun_loop_t *loop);

/* ---- udp.c ---- */
/* Loop close (L1): closes every UDP socket still open; 1 if any was. */
int uvr_udp_close_all(uvrun_loop_t *loop);

/* ---- server.c ---- */
/* Runner close (L1): every server of loop stops listening. */
void uvr_servers_close_all(uvrun_loop_t *loop);
/* Loop close: every server stops listening, and lets go of its handlers'
 * tasks, which will never end now. */
void uvr_servers_drop_all(uvrun_loop_t *loop);

/* ---- sigpipe.c ---- */
/* The first stream or server of the process ignores SIGPIPE (L4). */
void uvr_io_sigpipe_once(void);

#endif /* UVRUN_IO_INTERNAL_H */
