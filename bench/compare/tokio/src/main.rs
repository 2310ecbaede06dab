//! The comparison workloads on tokio's current-thread runtime. Usage as
//! bench/compare/uvrun_c.c: `cmp-tokio [w1 w2 w3 w5 w6]`, `cmp-tokio w4 [N]`,
//! `cmp-tokio w7`. Measures exactly as bench/compare/harness.h does and
//! prints the same JSON lines.
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::{Builder, Runtime};

const IMPL: &str = "tokio";
const SPAWN: u64 = 100_000;
const BURST: u64 = 100_000;

fn env_or(name: &str, dflt: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(dflt)
}

fn report(workload: &str, ns: &[f64], ops_per_sample: u64) {
    let mut s = ns.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    let all: Vec<String> = ns.iter().map(|x| format!("{:.3}", x)).collect();
    println!(
        "{{\"workload\":\"{}\",\"impl\":\"{}\",\"ns_per_op\":{:.3},\"min\":{:.3},\"max\":{:.3},\"samples\":{},\"ops_per_sample\":{},\"all\":[{}]}}",
        workload, IMPL, median, s[0], s[n - 1], n, ops_per_sample, all.join(",")
    );
}

fn measure(workload: &str, ops_per_iter: u64, mut f: impl FnMut(u64)) {
    let target = env_or("BENCH_SAMPLE_MS", 50) as f64 * 1e6;
    let samples = env_or("BENCH_SAMPLES", 7).clamp(1, 64);
    f(1); // warm-up
    let mut iters: u64 = 1;
    loop {
        let t0 = Instant::now();
        f(iters);
        let dt = t0.elapsed().as_nanos() as f64;
        if dt >= target {
            break;
        }
        let grow = if dt > 0.0 { (target * 1.2 / dt).clamp(2.0, 10.0) } else { 10.0 };
        iters = (iters as f64 * grow) as u64;
    }
    let mut ns = Vec::new();
    for _ in 0..samples {
        let t0 = Instant::now();
        f(iters);
        ns.push(t0.elapsed().as_nanos() as f64 / (iters * ops_per_iter) as f64);
    }
    report(workload, &ns, iters * ops_per_iter);
}

fn runtime() -> Runtime {
    Builder::new_current_thread().enable_time().build().unwrap()
}

#[inline(never)]
async fn leaf(i: u64) -> u64 {
    black_box(i)
}

async fn spawn_all(n: u64) {
    let handles: Vec<_> = (0..n).map(|_| tokio::spawn(leaf(1))).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, n);
}

async fn yielder(n: u64) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

async fn sleepers(n: u64) {
    let handles: Vec<_> = (0..n)
        .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(10))))
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

fn peak_rss() -> i64 {
    // ru_maxrss (KiB) from /proc: VmHWM.
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<i64>().unwrap() * 1024
}

type Callback = Box<dyn FnOnce(&mut u64) + Send>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("w7") {
        runtime().block_on(async {});
        return;
    }
    if args.first().map(String::as_str) == Some("w4") {
        let n: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(SPAWN);
        let before = peak_rss();
        let t0 = Instant::now();
        runtime().block_on(sleepers(n));
        let wall = t0.elapsed().as_nanos() as f64;
        println!(
            "{{\"workload\":\"W4\",\"impl\":\"{}\",\"tasks\":{},\"wall_ms\":{:.3},\"bytes_per_task\":{:.1}}}",
            IMPL, n, wall / 1e6, (peak_rss() - before) as f64 / n as f64
        );
        return;
    }
    let wanted = |w: &str| args.is_empty() || args.iter().any(|a| a == w);
    let rt = runtime();
    if wanted("w1") {
        measure("W1.fresh", 1, |iters| {
            for _ in 0..iters {
                runtime().block_on(async {});
            }
        });
        measure("W1.reused", 1, |iters| {
            for _ in 0..iters {
                rt.block_on(async {});
            }
        });
    }
    if wanted("w2") {
        measure("W2.spawn", SPAWN, |iters| {
            for _ in 0..iters {
                rt.block_on(spawn_all(SPAWN));
            }
        });
    }
    if wanted("w3") {
        measure("W3.inline", 1, |iters| {
            let sum = rt.block_on(async move {
                let mut sum = 0;
                for _ in 0..iters {
                    sum += leaf(black_box(1)).await;
                }
                sum
            });
            assert_eq!(sum, iters);
        });
        measure("W3.yield", 2, |iters| {
            rt.block_on(async move {
                let other = tokio::spawn(yielder(iters));
                yielder(iters).await;
                other.await.unwrap();
            });
        });
    }
    if wanted("w5") {
        measure("W5.executor", 1, |iters| {
            rt.block_on(async move {
                for _ in 0..iters {
                    tokio::task::spawn_blocking(|| ()).await.unwrap();
                }
            });
        });
    }
    if wanted("w6") {
        // call_soon_threadsafe: boxed callbacks sent through an unbounded
        // channel that a task on the runtime drains.
        measure("W6.threadsafe", BURST, |iters| {
            for _ in 0..iters {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Callback>();
                let producer = std::thread::spawn(move || {
                    for _ in 0..BURST {
                        let _ = tx.send(Box::new(|seen: &mut u64| *seen += 1));
                    }
                });
                let seen = rt.block_on(async move {
                    let mut seen = 0u64;
                    while seen < BURST {
                        match rx.recv().await {
                            Some(cb) => cb(&mut seen),
                            None => break,
                        }
                    }
                    seen
                });
                producer.join().unwrap();
                assert_eq!(seen, BURST);
            }
        });
    }
}
