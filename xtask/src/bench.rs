//! The user-space demo (`cargo xtask demo --user`) and the benchmark (`cargo xtask
//! bench`). Both run rinet-host on a TAP device inside network namespaces they create (and
//! remove at the end); nothing leaves the machine except the demo's forward on this
//! host's loopback. The kernel's demo and benchmark are `demo` and `kbench`.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{anyhow, bail, Context, Result};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::kbench::IDLE_CONNECTIONS;
use crate::util::{cargo, is_root, output, root_dir, run, write_json};

const RINET: &str = "10.77.0.2";
const LINUX_SIDE: &str = "10.77.0.1";

/// Namespaces and processes that go away when this value does.
struct Lab {
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            namespaces: Vec::new(),
            children: Vec::new(),
        }
    }

    fn ns(&mut self, name: &str) -> Result<()> {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        run("ip", &["netns", "add", name], Path::new("."), &[])?;
        self.namespaces.push(name.to_string());
        self.exec(name, &["ip", "link", "set", "lo", "up"])
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Result<()> {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        output("ip", &full, Path::new("."), &[]).map(|_| ())
    }

    fn out(&self, ns: &str, args: &[&str]) -> Result<String> {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        output("ip", &full, Path::new("."), &[])
    }

    /// A TAP device in `ns` with the Linux side at 10.77.0.1/24.
    fn tap(&self, ns: &str) -> Result<()> {
        self.exec(ns, &["ip", "tuntap", "add", "dev", "rtap0", "mode", "tap"])?;
        self.exec(
            ns,
            &[
                "ip",
                "addr",
                "add",
                &format!("{LINUX_SIDE}/24"),
                "dev",
                "rtap0",
            ],
        )?;
        self.exec(ns, &["ip", "link", "set", "rtap0", "up"])
    }

    /// Start a process in `ns` that prints READY when it is up.
    fn start(&mut self, ns: &str, args: &[&str]) -> Result<()> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::piped())
            .spawn_ctx()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        self.children.push(child);
        if line.starts_with("READY") {
            Ok(())
        } else {
            Err(anyhow!("{args:?} did not start: {line:?}"))
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

pub(crate) fn host_binary() -> Result<PathBuf> {
    cargo(&["build", "--release", "-p", "rinet-host"], &root_dir())?;
    Ok(root_dir().join("target/release/rinet-host"))
}

fn need_root() -> Result<()> {
    if is_root() {
        Ok(())
    } else {
        Err(anyhow!(
            "needs root for network namespaces and TAP devices: run it with sudo"
        ))
    }
}

/// `cargo xtask demo --user`: rinet in user space serving pages on
/// http://127.0.0.1:8080/.
pub fn demo(seconds: u64) -> Result<()> {
    need_root()?;
    crate::deps::ensure(false)?;
    let bin = host_binary()?;
    let bin = bin.to_str().unwrap_or_default();
    let mut lab = Lab::new();
    lab.ns("rinet-demo")?;
    lab.tap("rinet-demo")?;
    lab.start(
        "rinet-demo",
        &[
            bin,
            "serve",
            "--tap",
            "rtap0",
            "--addr",
            "10.77.0.2/24",
            "--udp-echo",
            "7",
        ],
    )?;
    // Forward this host's loopback port into the namespace; each connection gets its own
    // socat inside the namespace.
    let fwd = Command::new("socat")
        .args([
            "TCP-LISTEN:8080,bind=127.0.0.1,reuseaddr,fork",
            &format!("EXEC:ip netns exec rinet-demo socat STDIO TCP\\:{RINET}\\:80"),
        ])
        .spawn_ctx()?;
    lab.children.push(fwd);
    let start = Instant::now();
    loop {
        let ok = output(
            "curl",
            &["-sf", "-m", "2", "http://127.0.0.1:8080/"],
            Path::new("."),
            &[],
        );
        if ok.is_ok_and(|b| b.contains("rinet")) {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            bail!("the demo server did not answer on 127.0.0.1:8080");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("rinet (user space, on a TAP device) serves http://127.0.0.1:8080/");
    println!(
        "  try: curl http://127.0.0.1:8080/   curl -o /dev/null http://127.0.0.1:8080/gen/16777216"
    );
    if seconds > 0 {
        std::thread::sleep(Duration::from_secs(seconds));
    } else {
        println!("  Ctrl-C stops it.");
        if let Some(c) = lab.children.first_mut() {
            let _ = c.wait();
        }
    }
    Ok(())
}

fn curl_speed(lab: &Lab, ns: &str, url: &str) -> Result<f64> {
    let out = lab.out(
        ns,
        &[
            "curl",
            "-sS",
            "-m",
            "120",
            "-o",
            "/dev/null",
            "-w",
            "%{speed_download}",
            url,
        ],
    )?;
    out.trim()
        .parse::<f64>()
        .with_context(|| format!("curl printed {out:?}"))
}

fn wrk_rate(lab: &Lab, ns: &str, url: &str) -> Result<f64> {
    let out = lab.out(ns, &["wrk", "-t1", "-c8", "-d5s", url])?;
    out.lines()
        .find_map(|l| {
            l.strip_prefix("Requests/sec:")
                .and_then(|v| v.trim().parse().ok())
        })
        .with_context(|| format!("wrk printed no rate: {out}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `cargo xtask bench`: rinet on TAP against the same HTTP service on Linux sockets.
pub fn bench() -> Result<()> {
    need_root()?;
    crate::deps::ensure(false)?;
    let bin = host_binary()?;
    let bin = bin.to_str().unwrap_or_default();
    let mut lab = Lab::new();
    // Clients run in "rinet-bench". rinet sits on its TAP; the Linux server sits in
    // "rinet-bench-srv" behind a veth pair.
    lab.ns("rinet-bench")?;
    lab.ns("rinet-bench-srv")?;
    lab.tap("rinet-bench")?;
    run(
        "ip",
        &[
            "link",
            "add",
            "vb0",
            "netns",
            "rinet-bench",
            "type",
            "veth",
            "peer",
            "vb1",
            "netns",
            "rinet-bench-srv",
        ],
        Path::new("."),
        &[],
    )?;
    lab.exec(
        "rinet-bench",
        &["ip", "addr", "add", "10.78.0.1/24", "dev", "vb0"],
    )?;
    lab.exec("rinet-bench", &["ip", "link", "set", "vb0", "up"])?;
    lab.exec(
        "rinet-bench-srv",
        &["ip", "addr", "add", "10.78.0.2/24", "dev", "vb1"],
    )?;
    lab.exec("rinet-bench-srv", &["ip", "link", "set", "vb1", "up"])?;
    lab.start(
        "rinet-bench",
        &[
            bin,
            "serve",
            "--tap",
            "rtap0",
            "--addr",
            "10.77.0.2/24",
            "--tcp-buf",
            "131072",
        ],
    )?;
    lab.start(
        "rinet-bench-srv",
        &[bin, "linux-serve", "--bind", "10.78.0.2:80"],
    )?;
    let report = BenchReport {
        rinet: serve_figures(&lab, RINET)?,
        linux: serve_figures(&lab, "10.78.0.2")?,
    };
    let md = markdown(&report);
    print!("{md}");
    fs::write(root_dir().join("docs/bench-report.md"), &md)?;
    write_json(&root_dir().join("docs/bench-report.json"), &report)
}

/// The benchmark as data: docs/bench-report.md is rendered from it, docs/bench-report.json
/// is it.
#[derive(Serialize)]
struct BenchReport {
    /// rinet-host on the TAP device, in user space.
    rinet: ServerFigures,
    /// `rinet-host linux-serve` on Linux sockets, behind the veth pair.
    linux: ServerFigures,
}

#[derive(Serialize)]
struct ServerFigures {
    /// 64 MiB download with curl, median of 3.
    download_mbit_s: f64,
    /// The small page with wrk, 8 keep-alive connections for 5 s.
    small_page_req_s: f64,
    /// The same with IDLE_CONNECTIONS more connections open to the server, idle.
    small_page_req_s_idle: f64,
}

/// The clients' figures against the server at `ip`.
fn serve_figures(lab: &Lab, ip: &str) -> Result<ServerFigures> {
    let big = format!("http://{ip}/gen/67108864");
    curl_speed(lab, "rinet-bench", &big)?; // warm-up: content generation, ARP
    let speeds: Vec<f64> = (0..3)
        .map(|_| curl_speed(lab, "rinet-bench", &big))
        .collect::<Result<_, _>>()?;
    let page = format!("http://{ip}/");
    let small_page_req_s = wrk_rate(lab, "rinet-bench", &page)?;
    let small_page_req_s_idle = {
        let _idle = IdleConnections::open("rinet-bench", ip)?;
        wrk_rate(lab, "rinet-bench", &page)?
    };
    Ok(ServerFigures {
        download_mbit_s: median(speeds) * 8.0 / 1e6,
        small_page_req_s,
        small_page_req_s_idle,
    })
}

/// Opens IDLE_CONNECTIONS connections to port 80 of argv[1], prints READY once all are
/// established, and holds them until its stdin closes or it is killed.
const HOLD_IDLE: &str = "import socket, sys\n\
conns = [socket.create_connection((sys.argv[1], 80), timeout=30) for _ in range(int(sys.argv[2]))]\n\
print('READY', flush=True)\n\
sys.stdin.read()\n";

/// A process in a namespace that holds idle connections to a server; they close when
/// this value goes.
struct IdleConnections(Child);

impl IdleConnections {
    fn open(ns: &str, ip: &str) -> Result<IdleConnections> {
        let n = IDLE_CONNECTIONS.to_string();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", HOLD_IDLE, ip, &n])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn_ctx()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let held = IdleConnections(child);
        if line.starts_with("READY") {
            Ok(held)
        } else {
            Err(anyhow!("{n} idle connections to {ip} did not open"))
        }
    }
}

impl Drop for IdleConnections {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn markdown(report: &BenchReport) -> String {
    let (r, l) = (&report.rinet, &report.linux);
    let mut md =
        String::from("# Benchmark: rinet on TAP vs the same HTTP service on Linux sockets\n\n");
    let _ = writeln!(
        md,
        "Produced by `sudo cargo xtask bench`, one run, same machine. Clients (curl, wrk) run in one \
         namespace; rinet-host serves from a TAP device in it, and `rinet-host linux-serve` (same \
         content, same keep-alive rules, Linux TCP) serves from a second namespace behind a veth \
         pair. The paths differ: rinet's frames cross the TAP driver into a user-space process; \
         Linux's stay in the kernel. Read the ratio as \"rinet in user space relative to Linux in \
         the kernel\", not as a kernel-vs-kernel result (that is the QEMU benchmark of issue #3).\n"
    );
    md.push_str("| measure | rinet | Linux | rinet / Linux |\n|---|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| 64 MiB download (curl, median of 3), Mbit/s | {:.0} | {:.0} | {:.2} |",
        r.download_mbit_s,
        l.download_mbit_s,
        r.download_mbit_s / l.download_mbit_s
    );
    let _ = writeln!(
        md,
        "| small page, wrk -c8 5 s keep-alive, requests/s | {:.0} | {:.0} | {:.2} |",
        r.small_page_req_s,
        l.small_page_req_s,
        r.small_page_req_s / l.small_page_req_s
    );
    let _ = writeln!(
        md,
        "| the same with {IDLE_CONNECTIONS} idle connections open, requests/s | {:.0} | {:.0} | {:.2} |",
        r.small_page_req_s_idle,
        l.small_page_req_s_idle,
        r.small_page_req_s_idle / l.small_page_req_s_idle
    );
    let _ = writeln!(
        md,
        "\nSmall-page rate with {IDLE_CONNECTIONS} idle connections over the rate without: \
         rinet {:.2}, Linux {:.2}.",
        r.small_page_req_s_idle / r.small_page_req_s,
        l.small_page_req_s_idle / l.small_page_req_s
    );
    md
}
