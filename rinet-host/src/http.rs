//! A small HTTP/1.1 server and client on rinet sockets (non-blocking, poll-mask driven).

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use rinet::socket::opts::{SOL_TCP, TCP_NODELAY};
use rinet::socket::{POLLERR, POLLOUT, SOCK_STREAM};
use rinet::{Endpoint, Errno, Ipv4};
use sha2::{Digest, Sha256};

use crate::capi::{Host, Sock};

pub const INDEX: &[u8] = b"<!doctype html><title>rinet</title><h1>Served by rinet</h1>\n<p>A TCP/IP stack in Rust on smoltcp.</p>\n";

struct Conn {
    s: Sock,
    inbuf: Vec<u8>,
    head: Vec<u8>,
    body: Rc<Vec<u8>>,
    sent: usize,
    responding: bool,
    keep_alive: bool,
}

pub struct Server {
    listener: Sock,
    conns: HashMap<Sock, Conn>,
    docroot: Option<PathBuf>,
    cache: HashMap<String, Rc<Vec<u8>>>,
    pub requests: u64,
    /// When the last look at every connection was (see `step`).
    swept_at: u64,
    /// Connections a sweep found something to do for that no wakeup had named.
    pub missed_wakeups: u64,
}

/// How often `step` looks at every connection, woken or not.
const SWEEP_US: u64 = 100_000;

/// Deterministic content for `/gen/<bytes>`: the same bytes every time, for checksums.
pub fn generated(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

impl Server {
    pub fn new(
        h: &mut Host,
        port: u16,
        backlog: i32,
        docroot: Option<PathBuf>,
    ) -> Result<Server, Errno> {
        let l = h.socket(SOCK_STREAM, 0)?;
        h.set_reuseaddr(l, true)?;
        h.bind(l, Endpoint::new(Ipv4::ANY, port))?;
        h.listen(l, backlog)?;
        Ok(Server {
            listener: l,
            conns: HashMap::new(),
            docroot,
            cache: HashMap::new(),
            requests: 0,
            swept_at: 0,
            missed_wakeups: 0,
        })
    }

    fn content(
        cache: &mut HashMap<String, Rc<Vec<u8>>>,
        docroot: Option<&PathBuf>,
        path: &str,
    ) -> Option<Rc<Vec<u8>>> {
        if path == "/" || path == "/index.html" {
            return Some(Rc::new(INDEX.to_vec()));
        }
        if let Some(n) = path.strip_prefix("/gen/") {
            let n: usize = n.parse().ok().filter(|&n| n <= 1 << 30)?;
            return Some(
                cache
                    .entry(path.to_string())
                    .or_insert_with(|| Rc::new(generated(n)))
                    .clone(),
            );
        }
        let root = docroot?;
        let rel = path.trim_start_matches('/');
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return None;
        }
        if let Some(c) = cache.get(path) {
            return Some(c.clone());
        }
        let data = Rc::new(std::fs::read(root.join(rel)).ok()?);
        cache.insert(path.to_string(), data.clone());
        Some(data)
    }

    /// Serve whatever can be served now; true if anything happened. Only the connections
    /// the stack woke are looked at, as an epoll server does, so idle connections cost
    /// nothing here; every `SWEEP_US` all are, and what that finds to do is counted as a
    /// missed wakeup.
    pub fn step(&mut self, h: &mut Host) -> bool {
        let mut progress = false;
        let mut ready = h.take_woken();
        while let Ok((s, _)) = h.accept(self.listener) {
            let _ = h.set_int(s, SOL_TCP, TCP_NODELAY, 1);
            self.conns.insert(
                s,
                Conn {
                    s,
                    inbuf: Vec::new(),
                    head: Vec::new(),
                    body: Rc::new(Vec::new()),
                    sent: 0,
                    responding: false,
                    keep_alive: false,
                },
            );
            // Data may have come before the accept.
            ready.push(s);
            progress = true;
        }
        for s in ready {
            progress |= self.serve(h, s);
        }
        if h.now_us() >= self.swept_at + SWEEP_US {
            self.swept_at = h.now_us();
            let all: Vec<Sock> = self.conns.keys().copied().collect();
            for s in all {
                if self.serve(h, s) {
                    self.missed_wakeups += 1;
                    progress = true;
                }
            }
        }
        progress
    }

    /// Read, answer and write what connection `s` can now; true if anything happened.
    fn serve(&mut self, h: &mut Host, s: Sock) -> bool {
        let Some(c) = self.conns.get_mut(&s) else {
            return false;
        };
        let mut progress = false;
        let mut close = false;
        let mut buf = [0u8; 4096];
        // Read whatever arrived (also while responding, so close never finds unread data).
        loop {
            match h.recv(c.s, &mut buf) {
                Ok(0) => {
                    close = !c.responding;
                    break;
                }
                Ok(n) => {
                    c.inbuf.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(Errno::EAGAIN) => break,
                Err(_) => {
                    close = true;
                    break;
                }
            }
        }
        if !close && !c.responding {
            if let Some(end) = find(&c.inbuf, b"\r\n\r\n") {
                let req: Vec<u8> = c.inbuf.drain(..end + 4).collect();
                respond(&mut self.cache, self.docroot.as_ref(), c, &req);
                progress = true;
            }
        }
        if !close && c.responding {
            let total = c.head.len() + c.body.len();
            while c.sent < total {
                let r = if c.sent < c.head.len() {
                    h.send(c.s, &c.head[c.sent..])
                } else {
                    h.send(c.s, &c.body[c.sent - c.head.len()..])
                };
                match r {
                    Ok(n) => {
                        c.sent += n;
                        progress = true;
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(_) => {
                        close = true;
                        break;
                    }
                }
            }
            if c.sent == total && !close {
                self.requests += 1;
                c.responding = false;
                c.sent = 0;
                if !c.keep_alive {
                    close = true;
                }
            }
        }
        if close {
            let _ = h.close(s);
            self.conns.remove(&s);
            progress = true;
        }
        progress
    }
}

/// Start the answer to request `req` on `c`.
fn respond(
    cache: &mut HashMap<String, Rc<Vec<u8>>>,
    docroot: Option<&PathBuf>,
    c: &mut Conn,
    req: &[u8],
) {
    let text = String::from_utf8_lossy(req);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (method, path, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let close_hdr = lines.any(|l| {
        l.to_ascii_lowercase().starts_with("connection:")
            && l.to_ascii_lowercase().contains("close")
    });
    let keep_alive = version == "HTTP/1.1" && !close_hdr;
    let (status, body) = match (method, Server::content(cache, docroot, path)) {
        ("GET" | "HEAD", Some(b)) => ("200 OK", b),
        ("GET" | "HEAD", None) => ("404 Not Found", Rc::new(b"not found\n".to_vec())),
        _ => ("405 Method Not Allowed", Rc::new(Vec::new())),
    };
    let ctype = if path == "/" || path.ends_with(".html") {
        "text/html"
    } else {
        "application/octet-stream"
    };
    let head = format!(
            "HTTP/1.1 {status}\r\nServer: rinet-host\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
    c.head = head.into_bytes();
    c.body = if method == "HEAD" {
        Rc::new(Vec::new())
    } else {
        body
    };
    c.sent = 0;
    c.responding = true;
    c.keep_alive = keep_alive;
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub struct Fetched {
    pub status: u16,
    pub body_len: u64,
    pub sha256: String,
    pub seconds: f64,
}

/// GET `path` from `server`, streaming the body into SHA-256.
pub fn fetch(
    h: &mut Host,
    server: Endpoint,
    path: &str,
    timeout_s: u64,
) -> Result<Fetched, String> {
    let start = h.now_us();
    let deadline = start + timeout_s * 1_000_000;
    let s = h
        .socket(SOCK_STREAM, 0)
        .map_err(|e| format!("socket: {e:?}"))?;
    match h.connect(s, server) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => return Err(format!("connect: {e:?}")),
    }
    while h.mask(s) & (POLLOUT | POLLERR) == 0 {
        if h.now_us() > deadline {
            return Err("connect timed out".into());
        }
        h.pump(50);
    }
    let err = h.so_error(s).unwrap_or(0);
    if err != 0 {
        return Err(format!("connect: errno {err}"));
    }
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {}\r\nUser-Agent: rinet-host\r\n\r\n",
        server.addr.0.map(|b| b.to_string()).join(".")
    );
    let mut off = 0;
    while off < req.len() {
        match h.send(s, &req.as_bytes()[off..]) {
            Ok(n) => off += n,
            Err(Errno::EAGAIN) => h.pump(10),
            Err(e) => return Err(format!("send: {e:?}")),
        }
    }
    let mut head = Vec::new();
    let mut in_body = false;
    let mut sha = Sha256::new();
    let mut body_len = 0u64;
    let mut buf = vec![0u8; 65536];
    loop {
        match h.recv(s, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut data = &buf[..n];
                if !in_body {
                    head.extend_from_slice(data);
                    if let Some(end) = find(&head, b"\r\n\r\n") {
                        in_body = true;
                        let rest = head.split_off(end + 4);
                        sha.update(&rest);
                        body_len += rest.len() as u64;
                    }
                    data = &[];
                }
                sha.update(data);
                body_len += data.len() as u64;
            }
            Err(Errno::EAGAIN) => {
                if h.now_us() > deadline {
                    return Err(format!("timed out after {body_len} bytes"));
                }
                h.pump(50);
            }
            Err(e) => return Err(format!("recv: {e:?} after {body_len} bytes")),
        }
    }
    let _ = h.close(s);
    let status = String::from_utf8_lossy(&head)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP status line")?;
    let seconds = (h.now_us() - start) as f64 / 1e6;
    let sha256 = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Fetched {
        status,
        body_len,
        sha256,
        seconds,
    })
}
