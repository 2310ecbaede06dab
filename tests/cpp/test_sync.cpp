// Future<T>, Event, Lock, Semaphore, BoundedSemaphore and Queue<T>: asyncio's
// semantics, cancellation at every await point, and value lifetimes.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include "counted.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;
using uvrun::Task;

namespace {

using t::Counted;  // every value constructed must be destroyed exactly once

Task<void> locker(uvrun::Lock &lock, std::vector<int> &order, int id) {
  co_await lock.acquire();
  order.push_back(id);
  co_await uvrun::yield();
  lock.release();
}

Task<void> sem_user(uvrun::Semaphore &sem, int &inside, int &peak, std::vector<int> &order, int id) {
  auto guard = co_await sem.scoped();
  order.push_back(id);
  peak = std::max(peak, ++inside);
  co_await uvrun::sleep(1ms);
  --inside;
}

Task<void> waiter(uvrun::Event &ev, int &woken) {
  co_await ev.wait();
  ++woken;
}

template <class T>
Task<T> getter(uvrun::Queue<T> &q) {
  co_return co_await q.get();
}

template <class T>
Task<void> putter(uvrun::Queue<T> &q, T v) {
  co_await q.put(std::move(v));
}

}  // namespace

// ---- Future<T> ----

TEST_CASE("asyncio.Future set_result wakes the awaiter with the boxed value") {
  auto main = []() -> Task<int> {
    uvrun::Future<int> f;
    CHECK_FALSE(f.done());
    CHECK_THROWS_AS(f.result(), uvrun::InvalidStateError);
    auto t = uvrun::create_task([](uvrun::Future<int> f) -> Task<void> {
      co_await uvrun::yield();
      f.set_result(41);
    }(f));
    int v = co_await f;
    CHECK(f.done());
    CHECK_THROWS_AS(f.set_result(1), uvrun::InvalidStateError);
    co_await t;
    co_return v + 1;
  };
  CHECK(uvrun::run(main()) == 42);
}

TEST_CASE("asyncio.Future set_exception delivers the same exception object") {
  auto main = []() -> Task<bool> {
    uvrun::Future<void> f;
    auto e = std::make_exception_ptr(std::logic_error("boom"));
    f.set_exception(e);
    CHECK(f.exception() == e);
    try {
      co_await f;
    } catch (const std::logic_error &x) {
      try {
        std::rethrow_exception(e);
      } catch (const std::logic_error &y) {
        co_return &x == &y;
      }
    }
    co_return false;
  };
  CHECK(uvrun::run(main()));
}

TEST_CASE("asyncio.Future cancel makes awaiting raise CancelledError") {
  auto main = []() -> Task<std::string> {
    uvrun::Future<int> f;
    CHECK(f.cancel("stop"));
    CHECK_FALSE(f.cancel());
    CHECK(f.cancelled());
    CHECK_THROWS_AS((void)f.exception(), uvrun::CancelledError);
    try {
      co_await f;
    } catch (const uvrun::CancelledError &e) {
      co_return e.what();
    }
    co_return "";
  };
  CHECK(uvrun::run(main()) == "stop");
}

TEST_CASE("Future values are destroyed exactly once, set or not") {
  Counted::reset_counts();
  auto main = []() -> Task<int> {
    uvrun::Future<Counted> a, b;
    a.set_result(Counted(7));
    uvrun::Future<Counted> copy = a;  // shared, not copied
    CHECK(Counted::alive() == 1);
    b.cancel();
    co_return (co_await copy).value;
  };
  CHECK(uvrun::run(main()) == 7);
  CHECK(Counted::alive() == 0);
}

// ---- Event ----

TEST_CASE("asyncio.Event set wakes every waiter; wait after set returns at once") {
  auto main = []() -> Task<int> {
    uvrun::Event ev;
    int woken = 0;
    auto a = uvrun::create_task(waiter(ev, woken));
    auto b = uvrun::create_task(waiter(ev, woken));
    co_await uvrun::sleep(1ms);
    CHECK(woken == 0);
    ev.set();
    CHECK(ev.is_set());
    co_await a;
    co_await b;
    co_await ev.wait();  // set: no wait
    ev.clear();
    CHECK_FALSE(ev.is_set());
    co_return woken;
  };
  CHECK(uvrun::run(main()) == 2);
}

TEST_CASE("asyncio.Event a cancelled waiter leaves the others waiting") {
  auto main = []() -> Task<int> {
    uvrun::Event ev;
    int woken = 0;
    auto a = uvrun::create_task(waiter(ev, woken));
    auto b = uvrun::create_task(waiter(ev, woken));
    co_await uvrun::yield();
    a.cancel();
    CHECK_THROWS_AS(co_await a, uvrun::CancelledError);
    CHECK_FALSE(b.done());
    ev.set();
    co_await b;
    co_return woken;
  };
  CHECK(uvrun::run(main()) == 1);
}

// ---- Lock ----

TEST_CASE("asyncio.Lock excludes and wakes waiters in FIFO order") {
  auto main = []() -> Task<std::vector<int>> {
    uvrun::Lock lock;
    std::vector<int> order;
    std::vector<uvrun::TaskHandle<>> ts;
    for (int i = 0; i < 4; i++) ts.push_back(uvrun::create_task(locker(lock, order, i)));
    for (auto &t : ts) co_await t;
    CHECK_FALSE(lock.locked());
    co_return order;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("asyncio.Lock release of an unlocked lock is a RuntimeError") {
  auto main = []() -> Task<void> {
    uvrun::Lock lock;
    CHECK_THROWS_WITH_AS(lock.release(), "Lock is not acquired.", uvrun::RuntimeError);
    co_return;
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.Lock a waiter woken then cancelled passes the lock on") {
  auto main = []() -> Task<std::vector<int>> {
    uvrun::Lock lock;
    std::vector<int> order;
    co_await lock.acquire();
    auto t2 = uvrun::create_task(locker(lock, order, 2));
    auto t3 = uvrun::create_task(locker(lock, order, 3));
    co_await uvrun::yield();
    lock.release();  // wakes t2, which has not run yet
    CHECK(t2.cancel());
    CHECK_THROWS_AS(co_await t2, uvrun::CancelledError);
    co_await t3;  // would hang if the wake-up were lost
    CHECK_FALSE(lock.locked());
    co_return order;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{3});
}

TEST_CASE("asyncio.Lock a newcomer does not jump a woken waiter") {
  auto main = []() -> Task<std::vector<int>> {
    uvrun::Lock lock;
    std::vector<int> order;
    co_await lock.acquire();
    auto t1 = uvrun::create_task(locker(lock, order, 1));
    co_await uvrun::yield();
    lock.release();                                        // t1 woken
    auto t2 = uvrun::create_task(locker(lock, order, 2));  // arrives first
    co_await t1;
    co_await t2;
    co_return order;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{1, 2});
}

TEST_CASE("asyncio.Lock cancelling a queued waiter removes it; the guard releases on error") {
  auto main = []() -> Task<void> {
    uvrun::Lock lock;
    std::vector<int> order;
    {
      auto guard = co_await lock.scoped();
      auto t = uvrun::create_task(locker(lock, order, 1));
      co_await uvrun::yield();
      t.cancel();
      CHECK_THROWS_AS(co_await t, uvrun::CancelledError);
      CHECK(lock.locked());
    }
    CHECK_FALSE(lock.locked());
    try {
      auto guard = co_await lock.scoped();
      throw std::runtime_error("inside");
    } catch (const std::runtime_error &) {
    }
    CHECK_FALSE(lock.locked());
    co_await lock.acquire();  // nobody stale in the queue
    lock.release();
    CHECK(order.empty());
  };
  uvrun::run(main());
}

// ---- Semaphore ----

TEST_CASE("asyncio.Semaphore bounds concurrency and is FIFO") {
  auto main = []() -> Task<void> {
    uvrun::Semaphore sem(2);
    int inside = 0, peak = 0;
    std::vector<int> order;
    std::vector<uvrun::TaskHandle<>> ts;
    for (int i = 0; i < 6; i++) ts.push_back(uvrun::create_task(sem_user(sem, inside, peak, order, i)));
    for (auto &t : ts) co_await t;
    CHECK(peak == 2);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
    CHECK(sem.value() == 2);
    CHECK_FALSE(sem.locked());
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.Semaphore a waiter woken then cancelled gives its unit back") {
  auto main = []() -> Task<void> {
    uvrun::Semaphore sem(1);
    int inside = 0, peak = 0;
    std::vector<int> order;
    co_await sem.acquire();
    auto a = uvrun::create_task(sem_user(sem, inside, peak, order, 1));
    auto b = uvrun::create_task(sem_user(sem, inside, peak, order, 2));
    co_await uvrun::yield();
    CHECK(sem.locked());
    sem.release();  // wakes a, taking the unit for it
    CHECK(sem.value() == 0);
    a.cancel();
    CHECK_THROWS_AS(co_await a, uvrun::CancelledError);
    co_await b;
    CHECK(order == std::vector<int>{2});
    CHECK(sem.value() == 1);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.BoundedSemaphore refuses extra releases; negative values are refused") {
  auto main = []() -> Task<void> {
    uvrun::BoundedSemaphore sem(1);
    co_await sem.acquire();
    sem.release();
    CHECK_THROWS_AS(sem.release(), std::invalid_argument);
    CHECK_THROWS_AS(uvrun::Semaphore(-1), std::invalid_argument);
  };
  uvrun::run(main());
}

// ---- Queue ----

TEST_CASE("asyncio.Queue is FIFO; a full queue blocks put, an empty one blocks get") {
  auto main = []() -> Task<std::vector<int>> {
    uvrun::Queue<int> q(2);
    co_await q.put(1);
    co_await q.put(2);
    CHECK(q.full());
    auto p = uvrun::create_task(putter(q, 3));
    co_await uvrun::sleep(1ms);
    CHECK_FALSE(p.done());
    std::vector<int> got;
    got.push_back(co_await q.get());
    co_await p;
    got.push_back(co_await q.get());
    got.push_back(co_await q.get());
    auto g = uvrun::create_task(getter(q));
    co_await uvrun::sleep(1ms);
    CHECK_FALSE(g.done());
    q.put_nowait(4);
    got.push_back(co_await g);
    co_return got;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("asyncio.Queue put_nowait and get_nowait raise QueueFull and QueueEmpty") {
  auto main = []() -> Task<void> {
    uvrun::Queue<int> q(1);
    CHECK_THROWS_AS(q.get_nowait(), uvrun::QueueEmpty);
    q.put_nowait(1);
    CHECK_THROWS_AS(q.put_nowait(2), uvrun::QueueFull);
    CHECK(q.get_nowait() == 1);
    co_return;
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.Queue join waits for task_done of every item") {
  auto main = []() -> Task<void> {
    uvrun::Queue<int> q;
    co_await q.join();  // nothing unfinished
    q.put_nowait(1);
    q.put_nowait(2);
    bool joined = false;
    auto j = uvrun::create_task([](uvrun::Queue<int> &q, bool &joined) -> Task<void> {
      co_await q.join();
      joined = true;
    }(q, joined));
    (void)q.get_nowait();
    (void)q.get_nowait();
    q.task_done();
    co_await uvrun::sleep(1ms);
    CHECK_FALSE(joined);
    q.task_done();
    co_await j;
    CHECK(joined);
    CHECK_THROWS_AS(q.task_done(), std::invalid_argument);
  };
  uvrun::run(main());
}

TEST_CASE("asyncio.Queue a getter woken then cancelled passes the item on") {
  auto main = []() -> Task<int> {
    uvrun::Queue<int> q;
    auto g1 = uvrun::create_task(getter(q));
    auto g2 = uvrun::create_task(getter(q));
    co_await uvrun::yield();
    q.put_nowait(5);  // wakes g1, which has not run yet
    g1.cancel();
    CHECK_THROWS_AS(co_await g1, uvrun::CancelledError);
    co_return co_await g2;  // would hang if the wake-up were lost
  };
  CHECK(uvrun::run(main()) == 5);
}

TEST_CASE("asyncio.Queue a putter woken then cancelled passes the slot on") {
  auto main = []() -> Task<std::vector<int>> {
    uvrun::Queue<int> q(1);
    q.put_nowait(0);
    auto p1 = uvrun::create_task(putter(q, 1));
    auto p2 = uvrun::create_task(putter(q, 2));
    co_await uvrun::yield();
    std::vector<int> got{q.get_nowait()};  // wakes p1
    p1.cancel();
    CHECK_THROWS_AS(co_await p1, uvrun::CancelledError);
    co_await p2;
    got.push_back(q.get_nowait());
    co_return got;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{0, 2});
}

TEST_CASE("Queue.shutdown (3.13) wakes blocked getters and putters with QueueShutDown") {
  auto main = []() -> Task<void> {
    uvrun::Queue<int> empty_q;
    auto g = uvrun::create_task(getter(empty_q));
    uvrun::Queue<int> full_q(1);
    full_q.put_nowait(1);
    auto p = uvrun::create_task(putter(full_q, 2));
    co_await uvrun::yield();
    empty_q.shutdown();
    full_q.shutdown();
    CHECK_THROWS_AS(co_await g, uvrun::QueueShutDown);
    CHECK_THROWS_AS(co_await p, uvrun::QueueShutDown);
    CHECK_THROWS_AS(full_q.put_nowait(3), uvrun::QueueShutDown);
    CHECK_THROWS_AS(co_await full_q.put(3), uvrun::QueueShutDown);
    CHECK(co_await full_q.get() == 1);  // items already in are still served
    CHECK_THROWS_AS(co_await full_q.get(), uvrun::QueueShutDown);
    CHECK_THROWS_AS(full_q.get_nowait(), uvrun::QueueShutDown);
  };
  uvrun::run(main());
}

TEST_CASE("Queue.shutdown(immediate) drops the items and releases join") {
  Counted::reset_counts();
  auto main = []() -> Task<void> {
    uvrun::Queue<Counted> q;
    q.put_nowait(Counted(1));
    q.put_nowait(Counted(2));
    auto j = uvrun::create_task([](uvrun::Queue<Counted> &q) -> Task<void> { co_await q.join(); }(q));
    co_await uvrun::yield();
    CHECK(Counted::alive() == 2);
    q.shutdown(true);
    CHECK(Counted::alive() == 0);
    CHECK(q.empty());
    co_await j;
    CHECK_THROWS_AS(co_await q.get(), uvrun::QueueShutDown);
  };
  uvrun::run(main());
  CHECK(Counted::alive() == 0);
}

TEST_CASE("Queue values are destroyed once: left in the queue, cancelled puts, failed puts") {
  Counted::reset_counts();
  auto main = []() -> Task<int> {
    uvrun::Queue<Counted> q(1);
    co_await q.put(Counted(1));
    auto p = uvrun::create_task(putter(q, Counted(2)));  // blocks, holding its item
    co_await uvrun::yield();
    p.cancel();
    CHECK_THROWS_AS(co_await p, uvrun::CancelledError);
    CHECK_THROWS_AS(q.put_nowait(Counted(3)), uvrun::QueueFull);
    Counted got = co_await q.get();
    q.put_nowait(Counted(4));  // left in the queue
    co_return got.value;
  };
  CHECK(uvrun::run(main()) == 1);
  CHECK(Counted::alive() == 0);
}

TEST_CASE("asyncio.Queue cancellation at every await point leaves no stale waiter") {
  auto main = []() -> Task<std::vector<int>> {
    uvrun::Queue<int> q(1);
    auto g = uvrun::create_task(getter(q));
    co_await uvrun::yield();
    g.cancel();
    CHECK_THROWS_AS(co_await g, uvrun::CancelledError);
    q.put_nowait(1);
    auto p = uvrun::create_task(putter(q, 2));
    co_await uvrun::yield();
    p.cancel();
    CHECK_THROWS_AS(co_await p, uvrun::CancelledError);
    // The cancelled getter did not eat the item; the cancelled putter did
    // not leave one behind.
    std::vector<int> got;
    got.push_back(co_await q.get());
    CHECK(q.empty());
    co_await q.put(3);
    got.push_back(co_await q.get());
    co_return got;
  };
  CHECK(uvrun::run(main()) == std::vector<int>{1, 3});
}
