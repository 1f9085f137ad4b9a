//! The guest on a lossy link: 16 MiB each way at once through `rinet-host relay`'s
//! injected loss, reordering, duplication and corruption.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{anyhow, Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::image;
use crate::kernel::{self, Arch, Spec};
use crate::qemu::{sha256, Results};
use crate::util::cache_dir;

use super::tap::{in_ns, TapLab};

/// How long each direction of the lossy-link transfer may take: six times what the
/// guest's 16 MiB took on this project's 2-core machine (50 s; Linux's to the guest 18 s),
/// for a loaded CI host. Before smoltcp patches 0003 and 0004 the guest's took 641 s.
const LOSSY_TIMEOUT: Duration = Duration::from_secs(300);
/// The faults `rinet-host relay` injects on the lossy link, each way.
const LOSSY: [&str; 8] = [
    "--loss",
    "10",
    "--reorder",
    "5",
    "--duplicate",
    "5",
    "--corrupt",
    "5",
];

/// `cargo xtask guest-test --lossy`: only the lossy-link transfer, on the rinet kernel.
pub fn lossy_only(arch: Arch) -> Result<()> {
    let spec = Spec::rinet(arch);
    let build = kernel::build(spec)?;
    let mut res = Results::default();
    suite_lossy(spec, &build, &mut res)?;
    if res.failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("failed: {}", res.failed.join(", ")))
    }
}

/// Loss on the guest's own link, as netem would make it (this host's kernel has none): the
/// guest's frames go through `rinet-host relay` (QEMU's `-netdev socket,udp=`) to a TAP,
/// with 10% loss, 5% reordering, 5% duplication and 5% corruption each way. 16 MiB go each
/// way at once, checked by sha256: the guest's own file to the host (curl), and the
/// host's to the guest (busybox wget from a Python server in the namespace).
pub(super) fn suite_lossy(spec: Spec, build: &Path, res: &mut Results) -> Result<()> {
    let work = cache_dir()
        .join("guest")
        .join(format!("{}-lossy", spec.name()));
    fs::create_dir_all(&work)?;
    let mut cleanup = TapLab::new("rinet-lossy")?;
    let ns = cleanup.ns.clone();
    let nsx = |args: &[&str]| in_ns(&ns, args);
    // More ARP attempts than Linux's three: at these rates a connect would otherwise
    // fail now and then for want of the guest's MAC.
    for k in ["mcast_solicit", "ucast_solicit"] {
        nsx(&["sysctl", "-q", &format!("net.ipv4.neigh.qtap0.{k}=10")])?;
    }
    let up = work.join("up.bin");
    let data: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&up, &data)?;
    let up_sha = sha256(&up)?;
    let host = crate::bench::host_binary()?;
    let relay = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(&host)
        .args([
            "relay",
            "--tap",
            "qtap0",
            "--udp",
            "127.0.0.1:10001",
            "--qemu",
            "127.0.0.1:10002",
        ])
        .args(LOSSY)
        .stdout(fs::create(work.join("relay.log"))?)
        .stderr(Stdio::null())
        .spawn_ctx()?;
    cleanup.children.push(relay);
    cleanup.start(&[
        "python3",
        "-m",
        "http.server",
        "8000",
        "--bind",
        "10.88.0.1",
        "--directory",
        &work.to_string_lossy(),
    ])?;
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![image::rc_local(include_bytes!("../../guest/rc.lossy"))],
    )?;
    let g = cleanup.boot(
        spec,
        build,
        &initrd,
        "tinyrust.net=static tinyrust.ip=10.88.0.2 tinyrust.mask=255.255.255.0 tinyrust.gw=10.88.0.1",
        "socket,id=n0,udp=127.0.0.1:10001,localaddr=127.0.0.1:10002",
        &work,
    )?;
    let want = g.wait_for_sha("GUEST-LOSSY-SHA ", Duration::from_secs(180))?;
    // Both directions at once; each bounded by LOSSY_TIMEOUT.
    let started = Instant::now();
    let dl = work.join("from-guest.bin");
    let limit = LOSSY_TIMEOUT.as_secs().to_string();
    let mut curl = Command::new("ip")
        .args(["netns", "exec", &ns, "curl", "-sSf", "-m", &limit, "-o"])
        .arg(&dl)
        .arg("http://10.88.0.2/lossy16m.bin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn_ctx()?;
    let (mut down, mut up) = (None, None);
    while (down.is_none() || up.is_none())
        && started.elapsed() < LOSSY_TIMEOUT + Duration::from_secs(30)
    {
        if down.is_none() {
            if let Some(st) = curl.try_wait().context("waiting for curl")? {
                let mut err = String::new();
                if let Some(mut e) = curl.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                down = Some((st, err, started.elapsed().as_secs()));
            }
        }
        if up.is_none() {
            if let Ok(sha) = g.wait_for_sha("GUEST-LOSSY-UP ", Duration::ZERO) {
                up = Some((sha, started.elapsed().as_secs()));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = curl.kill();
    let down_s = down.as_ref().map_or("-".to_string(), |d| d.2.to_string());
    let up_s = up.as_ref().map_or("-".to_string(), |u| u.1.to_string());
    let down = match down {
        Some((st, _, _)) if st.success() => sha256(&dl).and_then(|got| {
            if got == want {
                Ok(())
            } else {
                Err(anyhow!("sha256 {got} != {want}"))
            }
        }),
        Some((st, err, _)) => Err(anyhow!("curl: {st}: {}", err.trim())),
        None => Err(anyhow!("no end within {} s", LOSSY_TIMEOUT.as_secs())),
    };
    let up_got = up
        .map(|u| u.0)
        .with_context(|| format!("the guest got nothing within {} s", LOSSY_TIMEOUT.as_secs()));
    drop(g);
    drop(cleanup);
    let injected = std::fs::read_to_string(work.join("relay.log")).unwrap_or_default();
    println!(
        "{}: 16 MiB each way at 10% loss, 5% reordering, duplication, corruption: guest to host {down_s} s, host to guest {up_s} s; {}",
        spec.name(),
        injected.trim()
    );
    res.record("lossy-link-16mib-guest-to-host", down);
    res.record(
        "lossy-link-16mib-host-to-guest",
        up_got.and_then(|got| {
            if got == up_sha {
                Ok(())
            } else {
                Err(anyhow!("guest got sha256 {got}, sent {up_sha}"))
            }
        }),
    );
    let drops = injected
        .split_whitespace()
        .skip_while(|w| *w != "injected-drops")
        .nth(1)
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    res.record(
        "lossy-link-faults-were-injected",
        if drops > 1000 {
            Ok(())
        } else {
            Err(anyhow!("relay: {injected:?}"))
        },
    );
    Ok(())
}
