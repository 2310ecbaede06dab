//! W15 on tokio (usage in ../../bench_threads.h):
//!
//!     threads-tokio roundtrip N | burst N
//!
//! A current-thread runtime with its I/O and time drivers (as one that also
//! serves sockets has) runs on a thread of its own until told to stop;
//! this thread hands it `async { 42 }` with Handle::spawn and receives the
//! value on a oneshot channel with blocking_recv (the JoinHandle cannot be
//! awaited outside the runtime without another executor).
//! roundtrip: N times in turn, each timed. burst: N spawns without waiting,
//! then each receiver in turn.
use std::process::exit;
use std::time::Instant;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

fn submit(handle: &Handle) -> oneshot::Receiver<i32> {
    let (tx, rx) = oneshot::channel();
    handle.spawn(async move {
        let _ = tx.send(42);
    });
    rx
}

fn check(rx: oneshot::Receiver<i32>) {
    match rx.blocking_recv() {
        Ok(42) => {}
        other => {
            eprintln!("threads-tokio: a task gave {other:?}, not 42");
            exit(1);
        }
    }
}

fn roundtrip(handle: &Handle, n: u64) -> String {
    let mut trips: Vec<f64> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            check(submit(handle));
            t0.elapsed().as_secs_f64()
        })
        .collect();
    trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let k = trips.len();
    let median = if k % 2 == 1 { trips[k / 2] } else { (trips[k / 2 - 1] + trips[k / 2]) / 2.0 };
    let p99 = trips[((k - 1) as f64 * 0.99) as usize];
    format!("\"value\":{:.2},\"p99\":{:.2}", median * 1e6, p99 * 1e6)
}

fn burst(handle: &Handle, n: u64) -> String {
    let start = Instant::now();
    let receivers: Vec<_> = (0..n).map(|_| submit(handle)).collect();
    receivers.into_iter().for_each(check);
    format!("\"value\":{:.1}", n as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, n): (String, u64) = match (args.len(), args.first(), args.get(1).map(|s| s.parse())) {
        (2, Some(m), Some(Ok(n))) if n > 0 && (m == "roundtrip" || m == "burst") => (m.clone(), n),
        _ => {
            eprintln!("usage: threads-tokio roundtrip N | burst N");
            exit(2);
        }
    };
    let rt = Builder::new_current_thread().enable_all().build().expect("a current-thread runtime");
    let handle = rt.handle().clone();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = rt.block_on(stop_rx);
    });
    let start = Instant::now();
    let result = if mode == "roundtrip" { roundtrip(&handle, n) } else { burst(&handle, n) };
    let seconds = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    thread.join().expect("the runtime's thread");
    println!("{{\"impl\":\"tokio\",\"case\":\"{mode}\",\"count\":{n},\"seconds\":{seconds:.6},{result}}}");
}
