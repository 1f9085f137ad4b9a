//! The same HTTP service on Linux sockets, as the benchmark's reference peer: the same
//! content and keep-alive behaviour as `http::Server`, one thread per connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use crate::http::{generated, INDEX};

fn handle(mut s: TcpStream, big: Arc<Vec<u8>>) {
    let _ = s.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(e) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break e;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let req = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end + 4);
        let path = req.split(' ').nth(1).unwrap_or("/");
        let keep =
            req.contains("HTTP/1.1") && !req.to_ascii_lowercase().contains("connection: close");
        let body: &[u8] = match path
            .strip_prefix("/gen/")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n <= big.len() => &big[..n],
            _ => INDEX,
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nServer: linux-reference\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            body.len(),
            if keep { "keep-alive" } else { "close" }
        );
        if s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(body))
            .is_err()
            || !keep
        {
            return;
        }
    }
}

pub fn serve(bind: &str, max_bytes: usize) -> Result<(), String> {
    let l = TcpListener::bind(bind).map_err(|e| format!("{bind}: {e}"))?;
    let big = Arc::new(generated(max_bytes));
    println!("READY http://{bind}/");
    for s in l.incoming().flatten() {
        let big = big.clone();
        std::thread::spawn(move || handle(s, big));
    }
    Ok(())
}
