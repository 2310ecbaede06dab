//! The RESP server of W8 on tokio's current-thread runtime: a TcpListener, a
//! task per connection, a HashMap behind a Mutex. The commands of
//! uvrun-resp-server: PING, ECHO, GET, SET, DEL, EXISTS, INCR, QUIT, CONFIG GET.
//!
//!     resp-tokio [--host HOST] [--port PORT]
use bytes::{Buf, BytesMut};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

type Db = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

const MAX_BULK: i64 = 512 << 20;
const MAX_ARGS: i64 = 1024;
const MAX_INLINE: usize = 64 << 10;

struct ProtocolError;

/// The number on the "*N" or "$N" line at pos and the position past it, or
/// None while the line is incomplete.
fn number_line(buf: &[u8], pos: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(cr) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() - pos > 32 { Err(ProtocolError) } else { Ok(None) };
    };
    let text = std::str::from_utf8(&buf[pos + 1..pos + cr]).map_err(|_| ProtocolError)?;
    let n = text.parse().map_err(|_| ProtocolError)?;
    Ok(Some((n, pos + cr + 2)))
}

/// One command at buf[pos..]: its arguments and the position past it, or
/// None while it is incomplete.
fn parse(buf: &[u8], pos: usize) -> Result<Option<(Vec<&[u8]>, usize)>, ProtocolError> {
    if buf[pos] != b'*' {
        // An inline command: words up to a newline.
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return if buf.len() - pos > MAX_INLINE { Err(ProtocolError) } else { Ok(None) };
        };
        let words = buf[pos..pos + nl].split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
        return Ok(Some((words.collect(), pos + nl + 1)));
    }
    let Some((n, mut at)) = number_line(buf, pos)? else { return Ok(None) };
    if !(0..=MAX_ARGS).contains(&n) {
        return Err(ProtocolError);
    }
    let mut args = Vec::with_capacity(n as usize);
    for _ in 0..n {
        if at == buf.len() {
            return Ok(None);
        }
        if buf[at] != b'$' {
            return Err(ProtocolError);
        }
        let Some((size, start)) = number_line(buf, at)? else { return Ok(None) };
        if !(0..=MAX_BULK).contains(&size) {
            return Err(ProtocolError);
        }
        let size = size as usize;
        if buf.len() - start < size + 2 {
            return Ok(None);
        }
        args.push(&buf[start..start + size]);
        at = start + size + 2;
    }
    Ok(Some((args, at)))
}

fn bulk(out: &mut Vec<u8>, value: &[u8]) {
    write!(out, "${}\r\n", value.len()).unwrap();
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Runs one command, its reply appended to out; true when the connection must end.
fn run(db: &Db, args: &[&[u8]], out: &mut Vec<u8>) -> bool {
    let name = args[0].to_ascii_lowercase();
    let argc = args.len();
    let mut db = db.lock().unwrap();
    match (name.as_slice(), argc) {
        (b"ping", 1) => out.extend_from_slice(b"+PONG\r\n"),
        (b"ping", 2) | (b"echo", 2) => bulk(out, args[1]),
        (b"get", 2) => match db.get(args[1]) {
            Some(value) => bulk(out, value),
            None => out.extend_from_slice(b"$-1\r\n"),
        },
        (b"set", 3) => {
            db.insert(args[1].to_vec(), args[2].to_vec());
            out.extend_from_slice(b"+OK\r\n");
        }
        (b"del", 2..) => {
            let n = args[1..].iter().filter(|key| db.remove(**key).is_some()).count();
            write!(out, ":{}\r\n", n).unwrap();
        }
        (b"exists", 2..) => {
            let n = args[1..].iter().filter(|key| db.contains_key(**key)).count();
            write!(out, ":{}\r\n", n).unwrap();
        }
        (b"incr", 2) => {
            let value = db.entry(args[1].to_vec()).or_insert_with(|| b"0".to_vec());
            match std::str::from_utf8(value).ok().and_then(|t| t.parse::<i64>().ok()).and_then(|n| n.checked_add(1)) {
                Some(n) => {
                    *value = n.to_string().into_bytes();
                    write!(out, ":{}\r\n", n).unwrap();
                }
                None => out.extend_from_slice(b"-ERR value is not an integer or out of range\r\n"),
            }
        }
        (b"quit", _) => {
            out.extend_from_slice(b"+OK\r\n");
            return true;
        }
        // redis-benchmark asks at start-up.
        (b"config", 3) if args[1].eq_ignore_ascii_case(b"get") => out.extend_from_slice(b"*0\r\n"),
        _ => {
            out.extend_from_slice(b"-ERR unknown command or wrong number of arguments for '");
            out.extend_from_slice(&args[0][..args[0].len().min(32)]);
            out.extend_from_slice(b"'\r\n");
        }
    }
    false
}

async fn serve(mut socket: TcpStream, db: Db) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::new();
    let mut quit = false;
    while !quit && socket.read_buf(&mut buf).await? > 0 {
        let mut pos = 0;
        while !quit && pos < buf.len() {
            match parse(&buf, pos) {
                Ok(Some((args, next))) => {
                    pos = next;
                    quit = !args.is_empty() && run(&db, &args, &mut out);
                }
                Ok(None) => break,
                Err(ProtocolError) => {
                    out.extend_from_slice(b"-ERR Protocol error\r\n");
                    quit = true;
                }
            }
        }
        buf.advance(pos);
        if !out.is_empty() {
            socket.write_all(&out).await?;
            out.clear();
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let (mut host, mut port) = ("127.0.0.1".to_string(), 0u16);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--host", Some(v)) => host = v.clone(),
            ("--port", Some(v)) if v.parse::<u16>().is_ok() => port = v.parse().unwrap(),
            _ => {
                eprintln!("usage: resp-tokio [--host HOST] [--port PORT]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind((host.as_str(), port)).await?;
    println!("listening on {}:{}", host, listener.local_addr()?.port());
    std::io::stdout().flush()?;
    let db = Db::default();
    let (mut sigint, mut sigterm) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    loop {
        tokio::select! {
            // A failed accept (out of descriptors) drops that client only.
            accepted = listener.accept() => if let Ok((socket, _)) = accepted {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(socket, db.clone()));
            },
            _ = sigint.recv() => return Ok(()),
            _ = sigterm.recv() => return Ok(()),
        }
    }
}
