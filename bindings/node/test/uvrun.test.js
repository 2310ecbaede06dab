'use strict';
// The Node.js binding: run(), Runner, tasks, timers, and JavaScript
// exceptions crossing the C core intact.
const test = require('node:test');
const assert = require('node:assert');
const uvrun = require('..');

function sleeper(seconds, value) {
  return (task, state) => {
    if (state.step++ === 0) return task.await(task.sleep(seconds));
    task.resume();
    return task.done(value);
  };
}

test('run returns the main task result', () => {
  assert.deepStrictEqual(uvrun.run(sleeper(0.01, { a: [1, 2] })), { a: [1, 2] });
  assert.strictEqual(uvrun.run((task) => task.done()), undefined);
});

test('state is passed to every step', () => {
  const state = { step: 0, seen: [] };
  const n = uvrun.run((task, s) => {
    s.seen.push(s.step);
    if (s.step < 3) { s.step++; return task.yield(); }
    return task.done(s.seen.length);
  }, state);
  assert.strictEqual(n, 4);
  assert.deepStrictEqual(state.seen, [0, 1, 2, 3]);
});

test('a throwing step becomes a task error and comes out of run() as the same object', () => {
  const boom = new RangeError('boom');
  assert.throws(() => uvrun.run(() => { throw boom; }), (e) => e === boom);
});

test('a child task error reaches the awaiting parent intact', () => {
  const boom = new Error('from child');
  const got = uvrun.run((task, s) => {
    if (s.step++ === 0) return task.await(task.createTask(() => { throw boom; }));
    try { task.resume(); } catch (e) { return task.done({ same: e === boom }); }
    return task.done({ same: false });
  });
  assert.deepStrictEqual(got, { same: true });
});

test('an unhandled child error propagates out of run()', () => {
  const boom = new Error('up');
  assert.throws(() => uvrun.run((task, s) => {
    if (s.step++ === 0) return task.await(task.createTask(() => { throw boom; }));
    task.resume();
    return task.done();
  }), (e) => e === boom);
});

test('child results and cancellation', () => {
  const got = uvrun.run((task, s) => {
    switch (s.step++) {
      case 0:
        s.a = task.createTask(sleeper(0.01, 21));
        return task.await(s.a);
      case 1:
        s.value = task.resume();
        s.b = task.createTask(sleeper(10, 'late'));
        return task.yield();
      case 2:
        s.b.cancel('stop');
        return task.await(s.b);
      default:
        try { task.resume(); } catch (e) {
          return task.done([s.value * 2, e instanceof uvrun.CancelledError]);
        }
        return task.done(null);
    }
  });
  assert.deepStrictEqual(got, [42, true]);
});

test('a cancelled main task raises CancelledError', () => {
  assert.throws(() => uvrun.run((task, s) => {
    switch (s.step++) {
      case 0:
        s.child = task.createTask((t, cs) => {
          if (cs.step++ === 0) return t.await(t.sleep(10));
          t.resume();
          return t.done();
        });
        return task.yield();
      case 1:
        s.child.cancel();
        return task.await(s.child);
      default:
        task.resume();
        return task.done();
    }
  }), uvrun.CancelledError);
});

test('call_later runs callbacks in time order', () => {
  const seen = [];
  uvrun.run((task, s) => {
    if (s.step++ === 0) {
      task.callLater(0.02, () => seen.push('b'));
      task.callLater(0.01, () => seen.push('a'));
      return task.await(task.sleep(0.05));
    }
    return task.done();
  });
  assert.deepStrictEqual(seen, ['a', 'b']);
});

test('a step returning nonsense is a TypeError', () => {
  assert.throws(() => uvrun.run(() => 'oops'), TypeError);
  assert.throws(() => uvrun.run(42), TypeError);
});

test('Runner: several runs, close, a call after close is a clear error', () => {
  const r = new uvrun.Runner();
  assert.strictEqual(r.run(sleeper(0, 1)), 1);
  assert.strictEqual(r.run(sleeper(0, 2)), 2);
  r.close();
  r.close();
  assert.throws(() => r.run(sleeper(0, 3)), (e) => e instanceof uvrun.UvrunError && e.code === -20000 &&
    /Runner is closed/.test(e.message));
});

test('C errors are UvrunError with code and message', () => {
  assert.throws(() => uvrun.run(sleeper(0, 1), null, { executorShutdownTimeout: -1 }),
    (e) => e instanceof uvrun.UvrunError && e.code === -22 && /executor_shutdown_timeout/.test(e.message));
  assert.throws(() => uvrun.run((task) => {
    try { uvrun.run(sleeper(0, 1)); } catch (e) { throw e; }
    return task.done();
  }), (e) => e.codeName === 'UVRUN_E_LOOP_RUNNING');
});

test('NULL handles from the host fail cleanly', () => {
  assert.strictEqual(uvrun._c.runner_close(null), -22);
  assert.ok(uvrun._c.task_await(null, null) < 0);
  uvrun._c.runner_free(null);
  uvrun._c.future_unref(null);
  uvrun._c.error_unref(null);
});

test('the registry is empty after runs', () => {
  const before = uvrun._objects.size;
  for (let i = 0; i < 3; i++) {
    uvrun.run(sleeper(0, [i]));
    assert.throws(() => uvrun.run(() => { throw new Error('x'); }));
  }
  assert.strictEqual(uvrun._objects.size, before);
});
