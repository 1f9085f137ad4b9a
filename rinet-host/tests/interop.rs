//! rinet against the host's own Linux stack. Each test makes a network namespace, a TAP
//! device in it (Linux side 10.77.0.1/24, rinet 10.77.0.2/24), runs `rinet-host` on the
//! TAP and Linux tools (curl, ping, python3, hping3, tc netem) in the namespace, and
//! removes it all afterwards. No traffic ever leaves the namespaces the tests create.
//!
//! Needs root (namespaces, TAP, netem) and curl, ping, python3, iproute2, hping3
//! (`cargo xtask test` installs them).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a transfer may take before the test calls it hung (see `curl`).
const TRANSFER_CAP_S: u32 = 1800;
const LINUX_IP: &str = "10.77.0.1";
const RINET_IP: &str = "10.77.0.2";
const MIB16: usize = 16 << 20;

static NEXT: AtomicU32 = AtomicU32::new(0);

struct Ns {
    name: String,
    dir: PathBuf,
    children: Vec<Child>,
    /// `rinet-host serve`, if running.
    server: Option<Child>,
}

fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Ns {
    /// A namespace with TAP `rtap0` configured on the Linux side.
    fn new(tag: &str) -> Ns {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "interop tests need root (network namespaces, TAP)"
        );
        let name = format!(
            "rinet-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        sh(&["ip", "netns", "add", &name]);
        let ns = Ns {
            name,
            dir,
            children: Vec::new(),
            server: None,
        };
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns.run(&["ip", "tuntap", "add", "dev", "rtap0", "mode", "tap"]);
        ns.run(&[
            "ip",
            "addr",
            "add",
            &format!("{LINUX_IP}/24"),
            "dev",
            "rtap0",
        ]);
        ns.run(&["ip", "link", "set", "rtap0", "up"]);
        ns
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Start `rinet-host serve` and wait for READY.
    fn serve(&mut self, extra: &[&str]) {
        let mut args = vec![
            env!("CARGO_BIN_EXE_rinet-host"),
            "serve",
            "--tap",
            "rtap0",
            "--addr",
            "10.77.0.2/24",
        ];
        args.extend_from_slice(extra);
        let mut child = self.cmd(&args).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("READY"),
            "rinet-host did not start: {line:?}"
        );
        self.server = Some(child);
    }

    /// Stop `rinet-host serve` (SIGTERM) and return the counters it prints.
    fn stop_server(&mut self) -> String {
        let child = self.server.take().expect("no server running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let out = child.wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        // The server looks only at the connections the stack woke; its periodic look at
        // all of them must find nothing a wakeup did not name.
        assert_eq!(
            counter(&report, "connections served without a wakeup: "),
            0,
            "{report}"
        );
        report
    }

    /// Start a background Linux process in the namespace.
    fn spawn(&mut self, args: &[&str]) {
        let child = self.cmd(args).stdout(Stdio::null()).spawn().unwrap();
        self.children.push(child);
    }

    /// Run a rinet-host client command with a time bound.
    fn rinet(&self, args: &[&str]) -> String {
        let mut full = vec![env!("CARGO_BIN_EXE_rinet-host")];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--tap", "rtap0", "--addr", "10.77.0.2/24"]);
        let cap = TRANSFER_CAP_S.to_string();
        let out = self.cmd(&["timeout", &cap]).args(&full).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "rinet-host {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    fn file(&self, name: &str, len: usize) -> (PathBuf, String) {
        let path = self.dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut buf = Vec::with_capacity(len);
        while buf.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        buf.truncate(len);
        f.write_all(&buf).unwrap();
        (path.clone(), sha256_file(&path))
    }

    /// Stop everything started in the namespace (a TAP takes one rinet at a time).
    fn stop_all(&mut self) {
        for mut c in self.children.drain(..).chain(self.server.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        self.stop_all();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256_file(p: &Path) -> String {
    let out = sh(&["sha256sum", p.to_str().unwrap()]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn wait_port(ns: &Ns, port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let out = ns.cmd(&["ss", "-ltn"]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("port {port} never opened");
}

/// curl from the Linux side; returns (exit code, stdout).
fn curl(ns: &Ns, args: &[&str]) -> (i32, String) {
    // A cap for a hang, not a speed limit: at 10% loss smoltcp's go-back-N recovery with
    // a 1 s minimum RTO took 16 MiB from 6 to over 15 minutes here (the loss pattern is
    // random per run; a CI run hit 900 s at 97%).
    let out = ns
        .cmd(&["curl", "-sS", "--max-time", &TRANSFER_CAP_S.to_string()])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn download_and_check(ns: &Ns, url: &str, want_sha: &str) {
    let dest = ns.dir.join("download");
    let (rc, text) = curl(ns, &["-o", dest.to_str().unwrap(), url]);
    assert_eq!(rc, 0, "curl {url}: {text}");
    assert_eq!(sha256_file(&dest), want_sha, "checksum of {url}");
}

#[test]
fn curl_downloads_16mib_from_rinet() {
    let mut ns = Ns::new("dl");
    let (path, sha) = ns.file("big.bin", MIB16);
    let root = path.parent().unwrap().to_str().unwrap().to_string();
    ns.serve(&["--docroot", &root]);
    download_and_check(&ns, &format!("http://{RINET_IP}/big.bin"), &sha);
    let (rc, page) = curl(&ns, &[&format!("http://{RINET_IP}/")]);
    assert_eq!(rc, 0);
    assert!(page.contains("Served by rinet"));
}

#[test]
fn rinet_downloads_16mib_from_linux() {
    let mut ns = Ns::new("up");
    let (path, sha) = ns.file("big.bin", MIB16);
    let dir = path.parent().unwrap().to_str().unwrap().to_string();
    ns.spawn(&[
        "python3",
        "-m",
        "http.server",
        "8000",
        "--bind",
        LINUX_IP,
        "--directory",
        &dir,
    ]);
    wait_port(&ns, 8000);
    let out = ns.rinet(&["fetch", "--url", &format!("http://{LINUX_IP}:8000/big.bin")]);
    assert!(
        out.contains(&format!("bytes {MIB16} sha256 {sha}")),
        "{out}"
    );
}

#[test]
fn ping_both_ways() {
    let mut ns = Ns::new("ping");
    ns.serve(&[]);
    let out = ns.run(&["ping", "-c", "3", "-i", "0.2", "-W", "2", RINET_IP]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 received"));
    drop(ns);
    let ns = Ns::new("ping2");
    let out = ns.rinet(&["ping", "--to", LINUX_IP, "--count", "3"]);
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
}

#[test]
fn udp_echo_both_ways() {
    let mut ns = Ns::new("udp");
    ns.serve(&["--udp-echo", "7"]);
    let client = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(2)\nn=0\n\
         for i in range(20):\n  m=b'linux %d'%i\n  s.sendto(m,('{RINET_IP}',7))\n  d,a=s.recvfrom(100)\n  n+=d==m\nprint('echoed',n)"
    );
    let out = ns.run(&["python3", "-c", &client]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "echoed 20");
    let server = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{LINUX_IP}',9007))\ns.settimeout(30)\n\
         while True:\n  d,a=s.recvfrom(2048)\n  s.sendto(d,a)"
    );
    ns.stop_all();
    ns.spawn(&["python3", "-c", &server]);
    std::thread::sleep(Duration::from_millis(300));
    let out = ns.rinet(&["udp", "--to", &format!("{LINUX_IP}:9007"), "--count", "20"]);
    assert!(out.contains("udp echoed 20/20"), "{out}");
}

#[test]
fn closed_port_is_refused() {
    let mut ns = Ns::new("rst");
    ns.serve(&[]);
    let (rc, text) = curl(&ns, &[&format!("http://{RINET_IP}:81/")]);
    assert_eq!(rc, 7, "curl: couldn't connect: {text}");
    // The refusal is an RST (ECONNREFUSED), not a timeout or an unreachable host.
    let probe = format!(
        "import socket\ntry:\n  socket.create_connection(('{RINET_IP}',81),timeout=5)\nexcept ConnectionRefusedError:\n  print('refused')"
    );
    let out = ns.run(&["python3", "-c", &probe]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "refused");
}

#[test]
fn sixty_four_clients_against_backlog_16() {
    let mut ns = Ns::new("many");
    ns.serve(&["--backlog", "16"]);
    let url = format!("http://{RINET_IP}/gen/65536");
    let mut args = vec![
        "--parallel",
        "--parallel-max",
        "64",
        "-w",
        "%{http_code} %{size_download}\\n",
    ];
    for _ in 0..64 {
        args.extend_from_slice(&["-o", "/dev/null", &url]);
    }
    let (rc, text) = curl(&ns, &args);
    assert_eq!(rc, 0, "{text}");
    let ok = text.lines().filter(|l| *l == "200 65536").count();
    assert_eq!(ok, 64, "{text}");
}

#[test]
fn lossy_reordering_duplicating_corrupting_link_16mib_both_ways() {
    let mut ns = Ns::new("loss");
    let (path, sha) = ns.file("big.bin", MIB16);
    let dir = path.parent().unwrap().to_str().unwrap().to_string();
    // rinet-host's injector, in each direction: drops 10% of the frames, reorders 5%,
    // duplicates 5% and corrupts 5% (one byte; the checksums must catch it). This sandbox
    // has no sch_netem; the effect on both TCP peers is the same.
    let faults = [
        "--loss",
        "10",
        "--reorder",
        "5",
        "--duplicate",
        "5",
        "--corrupt",
        "5",
    ];
    let mut args = vec!["--docroot", &dir];
    args.extend_from_slice(&faults);
    // ARP has no checksum and Linux gives up on a neighbour after 3 requests (about one
    // exchange in 30 fails at these rates, ~3% of connects): 10 requests on this link.
    for knob in ["mcast_solicit", "ucast_solicit"] {
        ns.run(&["sysctl", "-qw", &format!("net.ipv4.neigh.rtap0.{knob}=10")]);
    }
    ns.serve(&args);
    download_and_check(&ns, &format!("http://{RINET_IP}/big.bin"), &sha);
    ns.stop_all();
    ns.spawn(&[
        "python3",
        "-m",
        "http.server",
        "8000",
        "--bind",
        LINUX_IP,
        "--directory",
        &dir,
    ]);
    wait_port(&ns, 8000);
    let url = format!("http://{LINUX_IP}:8000/big.bin");
    let mut args = vec!["fetch", "--url", &url];
    args.extend_from_slice(&faults);
    let out = ns.rinet(&args);
    assert!(
        out.contains(&format!("bytes {MIB16} sha256 {sha}")),
        "{out}"
    );
    let count = |key: &str| -> u64 {
        out.split(key)
            .nth(1)
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    // 16 MiB is ~11,500 segments: 5% of them is hundreds of faults.
    for key in [
        "injected-drops ",
        "injected-reorders ",
        "injected-duplicates ",
        "injected-corruptions ",
    ] {
        assert!(count(key) > 200, "{key}: {out}");
    }
}

/// A number from rinet-host's counters: the word after `key`.
fn counter(report: &str, key: &str) -> u64 {
    report
        .split(key)
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key:?} in {report:?}"))
}

#[test]
fn syn_flood_from_random_sources_leaves_the_server_reachable() {
    let mut ns = Ns::new("flood");
    // busybox httpd's backlog. Off-link sources route through Linux, which drops what
    // rinet answers them.
    ns.serve(&["--backlog", "9", "--gw", LINUX_IP]);
    let (rc, _) = curl(&ns, &["--max-time", "2", &format!("http://{RINET_IP}/")]);
    assert_eq!(rc, 0);
    // hping3: 3,000 SYNs from random sources, one per 500 us (about 2,000 per second).
    let mut flood = ns
        .cmd(&[
            "timeout",
            "60",
            "hping3",
            "-q",
            "-S",
            "-p",
            "80",
            "--rand-source",
            "-i",
            "u500",
            "-c",
            "3000",
            RINET_IP,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hping3 (apt-get install hping3)");
    let start = Instant::now();
    // Clients during the flood, each given 1 s to get the page.
    let mut fetched = 0;
    for at_ms in [300u64, 600, 900, 1200] {
        let wait = Duration::from_millis(at_ms).saturating_sub(start.elapsed());
        std::thread::sleep(wait);
        let t = Instant::now();
        let (rc, page) = curl(&ns, &["--max-time", "1", &format!("http://{RINET_IP}/")]);
        assert_eq!(rc, 0, "a client {at_ms} ms into the flood: {page}");
        assert!(page.contains("Served by rinet"));
        assert!(t.elapsed() < Duration::from_secs(1));
        fetched += 1;
    }
    let status = flood.wait().unwrap();
    assert!(status.success(), "hping3: {status}");
    let flood_took = start.elapsed();
    // Two seconds on, the half-open connections still hold the SYN queue, which still
    // lets clients in.
    std::thread::sleep(Duration::from_secs(2));
    let (rc, _) = curl(&ns, &["--max-time", "1", &format!("http://{RINET_IP}/")]);
    assert_eq!(rc, 0);
    let report = ns.stop_server();
    assert_eq!(counter(&report, "served "), fetched + 2, "{report}");
    // The flood got through to rinet (most of its SYNs took a half-open one's place) and
    // held no more than the SYN queue: beside it, the listening sockets (TAP, loopback)
    // and the few connections of the clients.
    assert!(counter(&report, "syn-queue-evictions ") > 2000, "{report}");
    assert!(
        counter(&report, "engine sockets at most ") <= 16 + 2 + 2,
        "{report}"
    );
    assert!(
        flood_took < Duration::from_secs(10),
        "hping3 took {flood_took:?}"
    );
}

#[test]
fn martian_frames_are_dropped_unanswered_and_counted() {
    let mut ns = Ns::new("mart");
    ns.serve(&["--gw", LINUX_IP, "--udp-echo", "7"]);
    ns.run(&["ping", "-c", "1", "-W", "2", RINET_IP]);
    let neigh = ns.run(&["ip", "neigh", "show", RINET_IP]);
    let neigh = String::from_utf8_lossy(&neigh.stdout).to_string();
    let mac = neigh
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC for rinet in {neigh:?}"))
        .to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/martians.py");
    let out = ns.run(&["python3", script, "rtap0", &mac, RINET_IP, LINUX_IP]);
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.contains("martians answered 0\n"), "{out}");
    assert!(out.contains("control answered 1\n"), "{out}");
    let report = ns.stop_server();
    // The script says which counter each of its frames must move.
    let expect = out
        .lines()
        .find_map(|l| l.strip_prefix("expect "))
        .unwrap_or_else(|| panic!("no expect line: {out}"));
    for kv in expect.split_whitespace() {
        let (name, n) = kv.split_once('=').expect("NAME=COUNT");
        let n: u64 = n.parse().expect("a count");
        assert_eq!(
            counter(&report, &format!(" {name}=")),
            n,
            "{name}: {report}"
        );
    }
}

#[test]
fn echo_with_a_code_and_a_closed_udp_port_answered_as_linux_does() {
    let mut ns = Ns::new("codes");
    ns.serve(&["--udp-echo", "7"]);
    // Linux answers an echo request of any code, with that code (nmap's IE probe uses 9).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/codes.py");
    let out = ns.run(&["python3", script, RINET_IP, "7"]);
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out,
        "reply 0 9 0 True\nreply 0 0 0 True\nreply 0 255 0 True\nrefused\nrefused\nrefused\n\
         echoed b'echo'\n"
    );
    let report = ns.stop_server();
    assert_eq!(counter(&report, "no-ports "), 3, "{report}");
    assert_eq!(counter(&report, "udp in "), 1, "{report}");
    assert_eq!(counter(&report, "icmp in "), 3, "{report}");
}
