'use strict';
// uvrun for Node.js: asyncio's run() and Runner over libuvrun, through koffi.
//
// A task is a step function step(task, state), called again after each
// await, as in C:
//
//   function hello(task, state) {
//     if (state.step++ === 0) return task.await(task.sleep(0.01));
//     task.resume();                 // throws what the await threw
//     return task.done('hello');
//   }
//   uvrun.run(hello);                // -> 'hello'
//
// run() blocks the calling thread until the main task ends, so callbacks all
// run on the JavaScript thread: the binding offers no executor (libuvrun's
// worker threads cannot enter JavaScript while that thread is blocked).
// A JavaScript exception thrown by a step fails its task and comes out of
// run() as the same object; C errors arrive as UvrunError (.code, .name).

const fs = require('fs');
const path = require('path');
const koffi = require('koffi');

function findLibrary() {
  if (process.env.UVRUN_LIBRARY) return process.env.UVRUN_LIBRARY;
  const repo = path.resolve(__dirname, '..', '..');
  for (const build of ['build', 'build-ffi']) {
    const p = path.join(repo, build, 'capi', 'libuvrun.so');
    if (fs.existsSync(p)) return p;
  }
  return 'libuvrun.so.0';
}

const libraryPath = findLibrary();
const lib = koffi.load(libraryPath);

// Values that cross C as void * are ids into a registry (uintptr_t on the C
// side: same size and calling convention as a pointer).
const FreeFn = koffi.proto('void uvrun_free_fn(uintptr_t ptr)');
const StepFn = koffi.proto('int uvrun_step_fn(void *task, uintptr_t arg)');
const CallbackFn = koffi.proto('void uvrun_callback_fn(uintptr_t ud)');

const TaskOpts = koffi.struct('uvrun_task_opts_t', {
  size: 'uint32_t', name: 'const char *', context: 'void *', arg_free: koffi.pointer(FreeFn), site: 'const char *',
});
const Options = koffi.struct('uvrun_options_t', {
  size: 'uint32_t', debug: 'int32_t', loop_factory: 'void *', loop_factory_data: 'void *',
  executor_shutdown_timeout: 'double', executor_max_workers: 'int32_t', handle_sigint: 'int32_t',
  exception_handler: 'void *', exception_handler_data: 'void *', cancel_timeout: 'double', host_sigint: 'int32_t',
});

const c = {
  version_string: lib.func('const char *uvrun_version_string(void)'),
  err_name: lib.func('const char *uvrun_err_name(int code)'),
  strerror: lib.func('const char *uvrun_strerror(int code)'),
  errmsg: lib.func('const char *uvrun_errmsg(void)'),
  error_new: lib.func('void *uvrun_error_new(int code, const char *message, uintptr_t payload, uvrun_free_fn *payload_free)'),
  error_unref: lib.func('void uvrun_error_unref(void *err)'),
  error_code: lib.func('int uvrun_error_code(void *err)'),
  error_message: lib.func('const char *uvrun_error_message(void *err)'),
  error_payload: lib.func('uintptr_t uvrun_error_payload(void *err)'),
  error_payload_free: lib.func('void *uvrun_error_payload_free(void *err)'),
  take_error: lib.func('void *uvrun_take_error(void)'),
  options_init: lib.func('void uvrun_options_init(_Out_ uvrun_options_t *opts)'),
  task_opts_init: lib.func('void uvrun_task_opts_init(_Out_ uvrun_task_opts_t *opts)'),
  run: lib.func('int uvrun_run(uvrun_step_fn *step, uintptr_t arg, const uvrun_options_t *opts, _Out_ uintptr_t *result)'),
  runner_new: lib.func('int uvrun_runner_new(const uvrun_options_t *opts, _Out_ void **out)'),
  runner_run_task: lib.func('int uvrun_runner_run_task(void *runner, uvrun_step_fn *step, uintptr_t arg, const uvrun_task_opts_t *opts, _Out_ uintptr_t *result)'),
  runner_close: lib.func('int uvrun_runner_close(void *runner)'),
  runner_free: lib.func('void uvrun_runner_free(void *runner)'),
  task_new: lib.func('int uvrun_task_new(void *loop, uvrun_step_fn *step, uintptr_t arg, const uvrun_task_opts_t *opts, _Out_ void **out)'),
  task_unref: lib.func('void uvrun_task_unref(void *task)'),
  task_future: lib.func('void *uvrun_task_future(void *task)'),
  task_loop: lib.func('void *uvrun_task_loop(void *task)'),
  task_await: lib.func('int uvrun_task_await(void *task, void *fut)'),
  task_yield: lib.func('int uvrun_task_yield(void *task)'),
  task_resume: lib.func('int uvrun_task_resume(void *task, _Out_ uintptr_t *value)'),
  task_resume_error: lib.func('void *uvrun_task_resume_error(void *task)'),
  task_return: lib.func('int uvrun_task_return(void *task, uintptr_t value)'),
  task_return_owned: lib.func('int uvrun_task_return_owned(void *task, uintptr_t value, uvrun_free_fn *value_free)'),
  task_raise: lib.func('int uvrun_task_raise(void *task, void *err)'),
  task_cancel: lib.func('int uvrun_task_cancel(void *task, const char *msg)'),
  future_ref: lib.func('void *uvrun_future_ref(void *fut)'),
  future_unref: lib.func('void uvrun_future_unref(void *fut)'),
  sleep: lib.func('void *uvrun_sleep(void *task, double seconds)'),
  call_later: lib.func('int uvrun_loop_call_later(void *loop, double delay, uvrun_callback_fn *cb, uintptr_t ud, void *handle)'),
};

const E = {
  INVAL: -22, CLOSED: -20000, INTERRUPTED: -20006, CANCELLED: -20007, TASK_FAILED: -20010, EXIT: -20012,
};

class UvrunError extends Error {
  constructor(code, message) {
    const msg = message !== undefined ? message : c.strerror(code);
    const name = c.err_name(code);
    super(`${msg} (${name})`);
    this.name = 'UvrunError';
    this.code = code;
    this.codeName = name;
    this.uvrunMessage = msg;
  }
}

class CancelledError extends UvrunError {
  constructor(message) {
    super(E.CANCELLED, message || 'cancelled');
    this.name = 'CancelledError';
  }
}

class KeyboardInterrupt extends UvrunError {
  constructor() {
    super(E.INTERRUPTED, 'KeyboardInterrupt');
    this.name = 'KeyboardInterrupt';
  }
}

function errorFor(code, message) {
  if (message === undefined) message = c.errmsg();
  if (code === E.CANCELLED) return new CancelledError(message);
  if (code === E.INTERRUPTED) return new KeyboardInterrupt();
  return new UvrunError(code, message);
}

// ---- the registry: JavaScript values that C holds ----
const objects = new Map();
let nextId = 1;
function register(value) {
  const id = nextId++;
  objects.set(id, value);
  return id;
}
function lookup(id) {
  id = Number(id);
  if (id === 0) return undefined;
  return objects.has(id) ? objects.get(id) : id;
}
const releaseCb = koffi.register((id) => { objects.delete(Number(id)); }, koffi.pointer(FreeFn));
const releaseAddr = koffi.address(releaseCb);

function exceptionFrom(err, code) {
  const free = err ? c.error_payload_free(err) : null;
  if (free && koffi.address(free) === releaseAddr) {
    const payload = lookup(c.error_payload(err));
    if (payload instanceof Error || (payload !== undefined && typeof payload !== 'number')) return payload;
  }
  if (err) return errorFor(c.error_code(err), c.error_message(err));
  return errorFor(code);
}

function newError(exc) {
  let code = E.TASK_FAILED;
  if (exc instanceof UvrunError && exc.code < 0) code = exc.code;
  const text = exc instanceof Error ? `${exc.name}: ${exc.message}` : `thrown: ${String(exc)}`;
  return c.error_new(code, text, register(exc), releaseCb);
}

function takeError(code) {
  const err = c.take_error();
  try {
    return exceptionFrom(err, code);
  } finally {
    c.error_unref(err);
  }
}

// ---- futures and tasks ----
class Future {
  constructor(ptr) {
    if (!ptr) throw errorFor(E.INVAL);
    this._ptr = ptr;
  }
  release() {
    if (this._ptr) c.future_unref(this._ptr);
    this._ptr = null;
  }
}

class TaskHandle extends Future {
  constructor(taskPtr) {
    super(c.future_ref(c.task_future(taskPtr)));
    this._task = taskPtr;
  }
  cancel(msg) { return c.task_cancel(this._task, msg || null) === 1; }
  release() {
    super.release();
    if (this._task) c.task_unref(this._task);
    this._task = null;
  }
}

class Slot {
  constructor(step, state) {
    this.step = step;
    this.state = state !== undefined && state !== null ? state : { step: 0 };
    this.awaiting = null;
    this.resumeExc = undefined;
    this.resumeCode = 0;
    this.owned = [];
  }
}

class Task {
  constructor(ptr, slot) { this._ptr = ptr; this._slot = slot; }
  get state() { return this._slot.state; }
  sleep(seconds) { return new Future(c.sleep(this._ptr, seconds)); }
  await(fut) {
    if (!(fut instanceof Future)) throw new TypeError('task.await() needs a uvrun Future');
    if (this._slot.awaiting && this._slot.awaiting !== fut && !(this._slot.awaiting instanceof TaskHandle)) {
      this._slot.awaiting.release();
    }
    this._slot.awaiting = fut;
    return c.task_await(this._ptr, c.future_ref(fut._ptr));
  }
  yield() { return c.task_yield(this._ptr); }
  resume() {
    const value = [0];
    const rc = c.task_resume(this._ptr, value);
    if (rc < 0) {
      const exc = exceptionFrom(c.task_resume_error(this._ptr), rc);
      this._slot.resumeExc = exc;
      this._slot.resumeCode = rc;
      throw exc;
    }
    return lookup(value[0]);
  }
  done(value) {
    if (value === undefined || value === null) return c.task_return(this._ptr, 0);
    return c.task_return_owned(this._ptr, register(value), releaseCb);
  }
  createTask(step, state, name) {
    const handle = new TaskHandle(newTask(c.task_loop(this._ptr), step, state, name));
    this._slot.owned.push(handle); // released when this task ends
    return handle;
  }
  callLater(delay, fn, ...args) {
    const loop = c.task_loop(this._ptr);
    const id = register(() => fn(...args));
    const rc = c.call_later(loop, delay, callbackCb, id, null);
    if (rc < 0) {
      objects.delete(id);
      throw errorFor(rc);
    }
  }
}

const callbackCb = koffi.register((id) => {
  const fn = lookup(id);
  objects.delete(Number(id));
  try {
    fn();
  } catch (e) {
    process.emitWarning(`uvrun: exception in callback: ${e && e.stack ? e.stack : e}`);
  }
}, koffi.pointer(CallbackFn));

const stepCb = koffi.register((taskPtr, id) => {
  const slot = lookup(id);
  const task = new Task(taskPtr, slot);
  let rc;
  try {
    rc = slot.step(task, slot.state);
    if (!Number.isInteger(rc)) {
      throw new TypeError(`step function returned ${String(rc)}; return task.await(...), task.yield() or task.done(...)`);
    }
  } catch (exc) {
    rc = exc === slot.resumeExc ? slot.resumeCode : c.task_raise(taskPtr, newError(exc));
  }
  slot.resumeExc = undefined;
  if (rc <= 0) { // the task is finished: let go of what it held
    for (const h of slot.owned) h.release();
    slot.owned = [];
    if (slot.awaiting && !(slot.awaiting instanceof TaskHandle)) slot.awaiting.release();
    slot.awaiting = null;
  }
  return rc;
}, koffi.pointer(StepFn));

function taskOpts(name) {
  const opts = {};
  c.task_opts_init(opts);
  if (name) opts.name = name;
  opts.arg_free = releaseCb;
  opts.site = 'node';
  return opts;
}

function newTask(loopPtr, step, state, name) {
  if (typeof step !== 'function') throw new TypeError('step must be a function: step(task, state)');
  const id = register(new Slot(step, state));
  const out = [null];
  const rc = c.task_new(loopPtr, stepCb, id, taskOpts(name), out);
  if (rc < 0) throw errorFor(rc);
  return out[0];
}

function options(o) {
  const opts = {};
  c.options_init(opts);
  if (o.debug !== undefined && o.debug !== null) opts.debug = o.debug ? 1 : 0;
  if (o.handleSigint !== undefined) opts.handle_sigint = o.handleSigint ? 1 : 0;
  if (o.hostSigint) opts.host_sigint = 1;
  if (o.executorShutdownTimeout !== undefined) opts.executor_shutdown_timeout = o.executorShutdownTimeout;
  if (o.cancelTimeout !== undefined) opts.cancel_timeout = o.cancelTimeout;
  return opts;
}

function outcome(rc, result) {
  if (rc === 0) {
    const id = Number(result[0]);
    const value = lookup(id);
    objects.delete(id); // the result was moved out to us
    return value;
  }
  if ([E.TASK_FAILED, E.INTERRUPTED, E.CANCELLED, E.EXIT].includes(rc)) throw takeError(rc);
  throw errorFor(rc);
}

/** asyncio.run(): runs step(task, state) as the main task on a fresh loop and returns its result. */
function run(step, state, opts = {}) {
  if (typeof step !== 'function') throw new TypeError('step must be a function: step(task, state)');
  const id = register(new Slot(step, state));
  const result = [0];
  let rc;
  try {
    rc = c.run(stepCb, id, options(opts), result);
  } finally {
    objects.delete(id);
  }
  return outcome(rc, result);
}

/** asyncio.Runner: several run() calls on one loop; close() shuts down. */
class Runner {
  constructor(opts = {}) {
    const out = [null];
    const rc = c.runner_new(options(opts), out);
    if (rc < 0) throw errorFor(rc);
    this._ptr = out[0];
  }
  run(step, state, name) {
    if (!this._ptr) throw new UvrunError(E.CLOSED, 'Runner is closed');
    if (typeof step !== 'function') throw new TypeError('step must be a function: step(task, state)');
    const id = register(new Slot(step, state));
    const result = [0];
    const rc = c.runner_run_task(this._ptr, stepCb, id, taskOpts(name), result);
    return outcome(rc, result);
  }
  close() {
    if (!this._ptr) return;
    const rc = c.runner_close(this._ptr);
    if (rc === -20001 || rc === -20008) throw errorFor(rc);
    c.runner_free(this._ptr);
    this._ptr = null;
    if (rc < 0) throw errorFor(rc);
  }
}

module.exports = {
  run, Runner, Task, Future, TaskHandle, UvrunError, CancelledError, KeyboardInterrupt,
  version: () => c.version_string(), libraryPath, _objects: objects, _c: c,
};
