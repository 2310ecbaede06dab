// http-tokio -- an HTTP/1.1 hello server: hyper's Server on tokio's
// current-thread runtime. GET / answers "hello", other paths 404.
//
//   http-tokio [--host HOST] [--port PORT]
//
// Port 0 picks a free port; the first line on stdout is "listening on
// HOST:PORT". SIGINT and SIGTERM end it (their default action).
use std::convert::Infallible;
use std::io::Write;
use std::net::ToSocketAddrs;
use std::process::exit;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Method, Request, Response, Server, StatusCode};

async fn hello(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    if req.method() == Method::GET && req.uri().path() == "/" {
        return Ok(Response::new(Body::from("hello")));
    }
    let mut not_found = Response::new(Body::from("not found\n"));
    *not_found.status_mut() = StatusCode::NOT_FOUND;
    Ok(not_found)
}

fn usage() -> ! {
    eprintln!("usage: http-tokio [--host HOST] [--port PORT]");
    exit(2)
}

fn main() {
    let (mut host, mut port) = (String::from("127.0.0.1"), 0u16);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let addr = match (host.as_str(), port).to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        _ => {
            eprintln!("http-tokio: cannot resolve {host}");
            exit(1)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let server = match Server::try_bind(&addr) {
            Ok(builder) => builder,
            Err(e) => {
                eprintln!("http-tokio: {e}");
                exit(1)
            }
        };
        // The other servers of the comparison set TCP_NODELAY too.
        // (http1_pipeline_flush would batch pipelined answers, but hyper
        // 0.14.19 then drops its automatic 400 answer to a bad request.)
        let server = server
            .tcp_nodelay(true)
            .serve(make_service_fn(|_| async { Ok::<_, Infallible>(service_fn(hello)) }));
        println!("listening on {}:{}", host, server.local_addr().port());
        std::io::stdout().flush().expect("stdout");
        if let Err(e) = server.await {
            eprintln!("http-tokio: {e}");
            exit(1)
        }
    });
}
