//! W14 on tokio::fs::read, current-thread runtime (usage in
//! ../../oneshot.h):
//!
//!     files-tokio small PATH N | big PATH N
//!
//! The file is read whole N times in turn; `big` times each read and reports
//! the median.
use std::process::exit;
use std::time::Instant;

async fn read_files(path: &str, n: u64, big: bool) -> std::io::Result<f64> {
    let mut rates = Vec::new();
    let mut size = None;
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let data = tokio::fs::read(path).await?;
        let want = *size.get_or_insert(data.len());
        if data.len() != want || want == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::Other, format!("read {want} bytes, then {}", data.len())));
        }
        if big {
            rates.push(want as f64 / 1e6 / t.elapsed().as_secs_f64());
        }
    }
    if !big {
        return Ok(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = rates.len() / 2;
    Ok(if rates.len() % 2 == 1 { rates[m] } else { (rates[m - 1] + rates[m]) / 2.0 })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = match args.get(2).map(|s| s.parse()) {
        Some(Ok(n)) if n > 0 && args.len() == 3 && (args[0] == "small" || args[0] == "big") => n,
        _ => {
            eprintln!("usage: files-tokio small PATH N | big PATH N");
            exit(2);
        }
    };
    let start = Instant::now();
    match read_files(&args[1], n, args[0] == "big").await {
        Ok(v) => println!(
            "{{\"impl\":\"tokio\",\"case\":\"{}\",\"count\":{},\"seconds\":{:.6},\"value\":{:.1}}}",
            args[0],
            n,
            start.elapsed().as_secs_f64(),
            v
        ),
        Err(e) => {
            eprintln!("files-tokio {} {}: {e}", args[0], args[1]);
            exit(1);
        }
    }
}
