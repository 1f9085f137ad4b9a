//! A guest in QEMU, for the guest suites, the demo and the kernel benchmark: the launcher
//! (x86 PCs with the kernel and initramfs given to QEMU, and the ARMv7-M mps2-an386 with
//! its parts put in memory by QEMU's loader) with the CPUs and the static address a guest
//! gets, the guest's console, and (in `checks`) what the host checks of a guest.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::{Arch, Spec};

mod checks;

pub(crate) use checks::{
    curl, guest_snmp, kernel_complaints, sha256, snmp_value, Results, SNMP_CGI,
};

/// A running QEMU, its console written to `log`; QEMU is killed when this is dropped.
pub struct Guest {
    child: Child,
    log: PathBuf,
    pub http_port: u16,
}

/// A loopback port that is free now.
pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr().context("binding 127.0.0.1:0")?.port())
}

/// QEMU cannot outlive the tool: the kernel kills it when the tool's thread that started
/// it ends, by a signal (SIGINT, SIGTERM, SIGHUP to the tool's PID, not only Ctrl-C to the
/// process group), a crash or a normal exit. `ip netns exec` passes it on, as it execs
/// QEMU in place.
fn dies_with_the_tool(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The guests' network device unless a test asks for another.
pub const E1000: &str = "e1000,netdev=n0";

impl Guest {
    /// Boot `bzimage` with `initrd`; the guest's port 80 appears on 127.0.0.1:http_port.
    pub fn boot(
        arch: Arch,
        bzimage: &Path,
        initrd: &Path,
        append: &str,
        smp: u32,
        log: PathBuf,
    ) -> Result<Guest> {
        Guest::boot_on(arch, bzimage, initrd, append, smp, log, free_port()?, None)
    }

    /// As [`Guest::boot`] on a given host port; `pcap`: record the guest's link there.
    #[allow(clippy::too_many_arguments)]
    pub fn boot_on(
        arch: Arch,
        bzimage: &Path,
        initrd: &Path,
        append: &str,
        smp: u32,
        log: PathBuf,
        http_port: u16,
        pcap: Option<&Path>,
    ) -> Result<Guest> {
        Guest::boot_nic_on(
            arch, bzimage, initrd, append, smp, log, http_port, pcap, E1000,
        )
    }

    /// As [`Guest::boot`] on one CPU, with `nic` (a QEMU `-device` on netdev `n0`) in
    /// place of the e1000.
    pub fn boot_with_nic(
        arch: Arch,
        bzimage: &Path,
        initrd: &Path,
        append: &str,
        log: PathBuf,
        nic: &str,
    ) -> Result<Guest> {
        let port = free_port()?;
        Guest::boot_nic_on(arch, bzimage, initrd, append, 1, log, port, None, nic)
    }

    #[allow(clippy::too_many_arguments)]
    fn boot_nic_on(
        arch: Arch,
        bzimage: &Path,
        initrd: &Path,
        append: &str,
        smp: u32,
        log: PathBuf,
        http_port: u16,
        pcap: Option<&Path>,
        nic: &str,
    ) -> Result<Guest> {
        let netdev = format!("user,id=n0,hostfwd=tcp:127.0.0.1:{http_port}-:80");
        let net = (netdev.as_str(), nic);
        Guest::launch(
            arch,
            &[],
            bzimage,
            initrd,
            append,
            smp,
            log,
            net,
            http_port,
            pcap,
        )
    }

    /// Start QEMU (optionally under `prefix`, e.g. `ip netns exec NS`) with `net`: the
    /// `-netdev` (id `n0`) and the `-device` on it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn launch(
        arch: Arch,
        prefix: &[&str],
        bzimage: &Path,
        initrd: &Path,
        append: &str,
        smp: u32,
        log: PathBuf,
        (netdev, nic): (&str, &str),
        http_port: u16,
        pcap: Option<&Path>,
    ) -> Result<Guest> {
        // Galileo: QEMU's Pentium model (no cmov, like the Quark), with cmov switched back
        // on only because Debian's i386 user space is built for i686. That the kernel
        // itself has no cmov is checked on the vmlinux (see `abi::galileo_checks`).
        let (qemu, cpu): (&str, &[&str]) = match arch {
            Arch::X86_64 => ("qemu-system-x86_64", &[]),
            Arch::Galileo => ("qemu-system-i386", &["-cpu", "pentium,+cmov"]),
            Arch::Stm32 => return Err(anyhow!("no QEMU guest for the STM32F429 kernel")),
            Arch::Mps2 => return Err(anyhow!("the MPS2 guest starts with Guest::boot_mps2")),
        };
        let (prog, pre) = match prefix.split_first() {
            Some((p, rest)) => (*p, rest.to_vec()),
            None => (qemu, Vec::new()),
        };
        let mut cmd = Command::new(prog);
        dies_with_the_tool(&mut cmd);
        cmd.args(&pre);
        if !prefix.is_empty() {
            cmd.arg(qemu);
        }
        cmd.args(cpu);
        // One CPU per socket: with QEMU's default of cores in one socket, SeaBIOS's MP
        // table lists only the first CPU of each package, and a kernel without ACPI (ours)
        // would boot on one CPU whatever -smp says.
        let smp = format!("{smp},sockets={smp},cores=1,threads=1");
        let append = format!("console=ttyS0 panic=-1 {append}");
        // RINET_GUEST_PCAP=FILE records the guest's link of any guest (for chasing a
        // lost request); the guest suite records its own always.
        let pcap = std::env::var_os("RINET_GUEST_PCAP")
            .map(PathBuf::from)
            .or(pcap.map(Path::to_path_buf));
        if let Some(pcap) = pcap {
            let mut dump = std::ffi::OsString::from("filter-dump,id=dump0,netdev=n0,file=");
            dump.push(pcap);
            cmd.arg("-object").arg(dump);
        }
        cmd.args([
            "-accel",
            "tcg",
            "-m",
            "256M",
            "-smp",
            &smp,
            "-nographic",
            "-no-reboot",
        ])
        .args([
            "-kernel",
            &bzimage.to_string_lossy(),
            "-initrd",
            &initrd.to_string_lossy(),
        ])
        .args(["-append", &append, "-netdev", netdev, "-device", nic]);
        Guest::spawn(cmd, log, http_port)
    }

    /// Boot an ARMv7-M guest on QEMU's mps2-an386: the core starts from `stub`, and QEMU's
    /// loader puts each of `loads` (a file and its address) in memory first (see `mps2`,
    /// which makes them). The guest's port 80 appears on 127.0.0.1:http_port.
    pub fn boot_mps2(
        stub: &Path,
        loads: &[(&Path, u32)],
        log: PathBuf,
        http_port: u16,
    ) -> Result<Guest> {
        let load = |file: &Path, at: u32| format!("loader,file={},addr={at:#x}", file.display());
        let mut cmd = Command::new("qemu-system-arm");
        dies_with_the_tool(&mut cmd);
        cmd.args(["-M", "mps2-an386", "-nographic", "-no-reboot"])
            .args(["-kernel", &stub.to_string_lossy()]);
        for &(file, at) in loads {
            cmd.args(["-device", &load(file, at)]);
        }
        cmd.args([
            "-nic",
            &format!("user,hostfwd=tcp:127.0.0.1:{http_port}-:80"),
        ]);
        Guest::spawn(cmd, log, http_port)
    }

    /// Start `cmd`, a whole QEMU command line, with its console written to `log`.
    fn spawn(mut cmd: Command, log: PathBuf, http_port: u16) -> Result<Guest> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(fs::create(&log)?)
            .stderr(Stdio::null())
            .spawn_ctx()?;
        Ok(Guest {
            child,
            log,
            http_port,
        })
    }

    /// What the guest has printed on its console so far.
    pub fn console(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Wait until the console shows `marker`.
    pub fn wait_for(&self, marker: &str, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.console().contains(marker) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(anyhow!(
            "guest never printed {marker:?}; console:\n{}",
            tail(&self.console(), 40)
        ))
    }

    /// The SHA-256 the guest printed after `prefix`, once the whole of it is on the console
    /// (the console file is read while QEMU writes it).
    pub fn wait_for_sha(&self, prefix: &str, timeout: Duration) -> Result<String> {
        let whole_sha = |c: &str| {
            c.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(|v| {
                    v.chars()
                        .take_while(char::is_ascii_hexdigit)
                        .collect::<String>()
                })
                .filter(|v| v.len() == 64)
        };
        let start = Instant::now();
        loop {
            if let Some(w) = whole_sha(&self.console()) {
                return Ok(w);
            }
            if start.elapsed() > timeout {
                bail!("guest never printed its checksum ({prefix:?})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until QEMU ends by itself (the demo, serving until the tool is stopped).
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `n` lines of `s` (a console).
pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The CPUs QEMU gives the guest of `spec`: two for the debug kernel, so that the stack's
/// lock meets real concurrency, else one.
pub fn vcpus(spec: Spec) -> u32 {
    if spec.debug {
        2
    } else {
        1
    }
}

/// The guest's network on QEMU's user-mode link: static, as slirp expects it.
pub const STATIC_NET: &str =
    "tinyrust.net=static tinyrust.ip=10.0.2.15 tinyrust.mask=255.255.255.0 tinyrust.gw=10.0.2.2";
