/* fs_job.c -- a file operation as one job on the loop's executor (F1-F3).
 *
 * libuv's uv_fs_* run on its process-wide pool of four threads, where slow
 * lookups and slow disks stall each other (libuv#28); here every operation
 * is one job on the loop's own executor, however many system calls it
 * takes (read_file: open, fstat, reads, close).
 *
 * As with name lookups (dns.c), a request lives apart from its future and
 * is shared by both, because the job must never touch the future. Cancelling
 * the future marks the request: a job that starts after that returns at
 * once, so a cancelled write never happens (F3); one already running
 * finishes, and what it made is freed with the request. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

/* ---- the shared descriptor ---- */

uvr_fd *uvr_fd_new(const char *path) {
  uvr_fd *fd = uvr_calloc(1, sizeof *fd);
  if (fd == NULL || (fd->path = uvr_strdup(path)) == NULL) goto nomem;
  if (uv_mutex_init(&fd->mu) < 0) goto nomem;
  if (uv_cond_init(&fd->idle) < 0) {
    uv_mutex_destroy(&fd->mu);
    goto nomem;
  }
  atomic_init(&fd->refs, 1);
  fd->fd = -1;
  return fd;
nomem:
  if (fd != NULL) uvr_free(fd->path);
  uvr_free(fd);
  uvr_fail(UVRUN_E_NOMEM, "out of memory");
  return NULL;
}

uvr_fd *uvr_fd_ref(uvr_fd *fd) {
  atomic_fetch_add_explicit(&fd->refs, 1, memory_order_relaxed);
  return fd;
}

void uvr_fd_unref(uvr_fd *fd) {
  if (fd == NULL || atomic_fetch_sub_explicit(&fd->refs, 1, memory_order_acq_rel) != 1) return;
  if (fd->fd >= 0) close(fd->fd); /* never closed by the caller: nobody is left to hear of an error */
  uv_cond_destroy(&fd->idle);
  uv_mutex_destroy(&fd->mu);
  uvr_free(fd->path);
  uvr_free(fd);
}

/* The jobs queued before the close have all been taken by workers (the
 * queue is first in, first out), so the wait ends when they return. */
int uvr_fd_close_when_idle(uvr_fd *fd) {
  int rc = 0;
  uv_mutex_lock(&fd->mu);
  while (fd->busy > 0) uv_cond_wait(&fd->idle, &fd->mu);
  if (fd->fd >= 0 && close(fd->fd) < 0 && errno != EINTR) rc = -errno;
  fd->fd = -1;
  uv_mutex_unlock(&fd->mu);
  return rc;
}

int uvr_fd_close_soon(uvr_fd *fd) {
  int had;
  uv_mutex_lock(&fd->mu);
  had = fd->fd;
  if (had >= 0 && fd->busy == 0) {
    close(had);
    fd->fd = -1;
  }
  fd->close_on_idle = 1;
  uv_mutex_unlock(&fd->mu);
  return had;
}

static void fd_job_ended(uvr_fd *fd) {
  uv_mutex_lock(&fd->mu);
  if (--fd->busy == 0) {
    uv_cond_broadcast(&fd->idle);
    if (fd->close_on_idle && fd->fd >= 0) {
      close(fd->fd);
      fd->fd = -1;
    }
  }
  uv_mutex_unlock(&fd->mu);
}

/* ---- the request ---- */

uvr_fs_req *uvr_fs_req_new(const char *what, int (*run)(uvr_fs_req *req), const char *path) {
  uvr_fs_req *req = uvr_calloc(1, sizeof *req);
  if (req == NULL || (path != NULL && (req->path = uvr_strdup(path)) == NULL)) {
    uvr_free(req);
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  atomic_init(&req->refs, 1);
  req->what = what;
  req->run = run;
  return req;
}

int uvr_fs_req_take_copy(uvr_fs_req *req, const void *data, size_t n) {
  if (n > 0 && (req->data = uvr_malloc(n)) == NULL) {
    uvr_fs_req_free(req);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  if (n > 0) memcpy(req->data, data, n);
  req->len = n;
  return 0;
}

void uvr_fs_req_free(uvr_fs_req *req) {
  uvr_free(req->path);
  uvr_free(req->path2);
  uvr_free(req->data);
  uvr_free(req->entries);
  uvr_fd_unref(req->fd);
  uvr_free(req);
}

static void req_unref(uvr_fs_req *req) {
  if (atomic_fetch_sub_explicit(&req->refs, 1, memory_order_acq_rel) == 1) uvr_fs_req_free(req);
}

int uvr_fs_fail(const uvr_fs_req *req, int code) {
  char text[128];
  const char *path = req->path != NULL ? req->path : req->fd->path;
  const char *why = uvr_io_strerror(code, text, sizeof text);
  if (req->path2 != NULL) return uvr_fail(code, "%s(\"%s\", \"%s\"): %s", req->what, path, req->path2, why);
  return uvr_fail(code, "%s(\"%s\"): %s", req->what, path, why);
}

int uvr_fs_bad_arg(const char *what, const char *problem) { return uvr_fail(UVRUN_E_INVAL, "%s: %s", what, problem); }

static int fs_job(void *ud, void **result) {
  uvr_fs_req *req = ud;
  int rc = 0;
  if (!atomic_load_explicit(&req->cancelled, memory_order_acquire)) rc = req->run(req);
  if (req->on_file) fd_job_ended(req->fd);
  *result = req->result;
  req_unref(req);
  return rc;
}

/* ---- the future ---- */

typedef struct fs_state {
  uvr_fs_req *req;
  uvrun_file_t *file; /* open's value: released with the future */
} fs_state;

static fs_state *fs_state_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static int fs_cancel(uvrun_future_t *fut, const char *msg) {
  if (!uvrun_future_done(fut)) atomic_store_explicit(&fs_state_of(fut)->req->cancelled, 1, memory_order_release);
  return uvr_future_cancel_plain(fut, msg);
}

static void fs_free(uvrun_future_t *fut) {
  fs_state *st = fs_state_of(fut);
  atomic_store_explicit(&st->req->cancelled, 1, memory_order_release);
  req_unref(st->req);
  uvrun_file_unref(st->file);
}

static const uvr_io_kind fs_kind = {"file operation", fs_cancel, fs_free, NULL};

uvrun_future_t *uvr_fs_submit(uvrun_loop_t *loop, uvr_fs_req *req, uvrun_file_t *file) {
  uvrun_future_t *fut = uvr_io_future_new(loop, &fs_kind, sizeof(fs_state));
  if (fut == NULL) {
    uvr_fs_req_free(req);
    uvrun_file_unref(file);
    return NULL;
  }
  fs_state_of(fut)->req = req;
  fs_state_of(fut)->file = file;
  if (req->on_file) {
    uv_mutex_lock(&req->fd->mu);
    req->fd->busy++;
    uv_mutex_unlock(&req->fd->mu);
  }
  atomic_init(&req->refs, 2);
  if (uvr_executor_submit_io(loop, fs_job, req, fut) < 0) {
    if (req->on_file) fd_job_ended(req->fd);
    atomic_store_explicit(&req->refs, 1, memory_order_relaxed);
    uvrun_future_unref(fut);
    return NULL;
  }
  return fut;
}
