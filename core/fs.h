/* fs.h -- what the file operations share (fs_job.c): a request that one
 * executor job runs, and the descriptor an open file shares with its jobs.
 * Nothing here is API (that is uvrun_fs.h). */
#ifndef UVRUN_FS_INTERNAL_H
#define UVRUN_FS_INTERNAL_H

#include "io.h"
#include "uvrun_fs.h"

/* An open file's descriptor, shared by the file and the jobs that use it,
 * freed (and the descriptor closed if still open) by whoever lets go last,
 * on whatever thread. */
typedef struct uvr_fd {
  atomic_int refs;
  int fd;     /* -1 until open succeeded, and once closed */
  char *path; /* for messages */
  uv_mutex_t mu;
  uv_cond_t idle;
  int busy;          /* under mu: jobs submitted on it that have not ended */
  int close_on_idle; /* under mu: the job that ends last closes fd */
} uvr_fd;

/* NULL on failure (recorded). One reference, the caller's. */
uvr_fd *uvr_fd_new(const char *path);
uvr_fd *uvr_fd_ref(uvr_fd *fd);
void uvr_fd_unref(uvr_fd *fd);
/* On a worker: waits until no job uses fd, then closes it: 0 or -errno. */
int uvr_fd_close_when_idle(uvr_fd *fd);
/* On the loop thread, never waiting: closes fd now, or has the last job
 * using it close it. The descriptor it had, -1 if none. */
int uvr_fd_close_soon(uvr_fd *fd);

/* One operation. The future and the job share it (atomic refs): the job
 * never touches the future, which may be gone when the job ends. */
typedef struct uvr_fs_req uvr_fs_req;
struct uvr_fs_req {
  atomic_int refs;
  atomic_int cancelled;        /* set by cancel: a job not started skips run */
  int (*run)(uvr_fs_req *req); /* on a worker: 0, or uvr_fs_fail's code */
  const char *what;            /* the operation, in messages: "read_file" */
  void *result;                /* the future's value, freed with the request */
  char *path, *path2;          /* copies; an open file's ops use fd->path */
  char *data;                  /* the bytes written (a copy) or read */
  size_t len;
  uvrun_bytes_t bytes;
  uvrun_file_stat_t st;
  uvrun_dirent_t *entries;
  int64_t offset;
  size_t limit;
  int flags, mode;
  uvr_fd *fd;  /* reference: the file's, or the one open fills */
  int on_file; /* counted in fd->busy until the job ends */
};

/* A request for `what`, running `run`, with a copy of path (NULL: none);
 * NULL on failure (recorded). */
uvr_fs_req *uvr_fs_req_new(const char *what, int (*run)(uvr_fs_req *req), const char *path);
/* For a request never submitted. */
void uvr_fs_req_free(uvr_fs_req *req);
/* Copies the bytes a write job will write into req (data, len); on failure
 * frees req and records the error. */
int uvr_fs_req_take_copy(uvr_fs_req *req, const void *data, size_t n);
/* Submits req (taken over, also on failure) as one job on the loop's
 * executor; file (a reference, taken over; NULL: none) is released with
 * the future -- open's value. NULL on failure (recorded). */
uvrun_future_t *uvr_fs_submit(uvrun_loop_t *loop, uvr_fs_req *req, uvrun_file_t *file);
/* Records code with a message naming the operation and its path(s);
 * returns code. */
int uvr_fs_fail(const uvr_fs_req *req, int code);
/* The UVRUN_E_INVAL failure of a bad argument, naming the operation. */
int uvr_fs_bad_arg(const char *what, const char *problem);

/* ---- fs_io.c: the system calls, restarted when interrupted ---- */
/* All n bytes at offset (-1: the position): 0 or -errno. */
int uvr_fs_write_all(int fd, const char *data, size_t n, int64_t offset);
/* Up to n bytes at offset (-1: the position), fewer only at the end:
 * the count or -errno. */
ssize_t uvr_fs_read_full(int fd, char *buf, size_t n, int64_t offset);
/* What fstat/stat say, in the API's terms. */
struct stat;
void uvr_fs_stat_fill(uvrun_file_stat_t *out, const struct stat *st);

#endif /* UVRUN_FS_INTERNAL_H */
