//! W13 on tokio's process module, current-thread runtime (usage in
//! ../../oneshot.h):
//!
//!     proc-tokio spawn N | cat BYTES
//!
//! spawn: Command::new("true").spawn() and await its wait(), N times in turn.
//! cat: a task writes 64 KiB chunks into cat's stdin (write_all) while the
//! main task reads its stdout to the end.
use std::process::{exit, Stdio};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const CHUNK: usize = 64 << 10;

async fn spawn_true(n: u64) -> std::io::Result<f64> {
    let start = Instant::now();
    for _ in 0..n {
        let status = Command::new("true").spawn()?.wait().await?;
        if !status.success() {
            return Err(std::io::Error::new(std::io::ErrorKind::Other, format!("true: {status}")));
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

async fn cat_round_trip(n: u64) -> std::io::Result<f64> {
    let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let start = Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let feeder = tokio::spawn(async move {
        let chunk = vec![b'x'; CHUNK];
        let mut left = n;
        while left > 0 {
            let k = left.min(CHUNK as u64) as usize;
            stdin.write_all(&chunk[..k]).await?;
            left -= k as u64;
        }
        Ok::<_, std::io::Error>(()) // dropping stdin closes it: cat sees the end
    });
    let mut buf = vec![0u8; CHUNK];
    let mut back = 0u64;
    loop {
        let k = stdout.read(&mut buf).await?;
        if k == 0 {
            break;
        }
        back += k as u64;
    }
    feeder.await??;
    let status = child.wait().await?;
    if !status.success() || back != n {
        return Err(std::io::Error::new(std::io::ErrorKind::Other, format!("cat: {status}, gave back {back} of {n} bytes")));
    }
    Ok(back as f64 / 1e6 / start.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = match args.get(1).map(|s| s.parse()) {
        Some(Ok(n)) if n > 0 && args.len() == 2 => n,
        _ => {
            eprintln!("usage: proc-tokio spawn N | cat BYTES");
            exit(2);
        }
    };
    let start = Instant::now();
    let value = match args[0].as_str() {
        "spawn" => spawn_true(n).await,
        "cat" => cat_round_trip(n).await,
        _ => {
            eprintln!("usage: proc-tokio spawn N | cat BYTES");
            exit(2);
        }
    };
    match value {
        Ok(v) => println!(
            "{{\"impl\":\"tokio\",\"case\":\"{}\",\"count\":{},\"seconds\":{:.6},\"value\":{:.1}}}",
            args[0],
            n,
            start.elapsed().as_secs_f64(),
            v
        ),
        Err(e) => {
            eprintln!("proc-tokio {}: {e}", args[0]);
            exit(1);
        }
    }
}
