//! What the host checks of a guest: the suites' record of their checks, the guest's
//! pages fetched with curl, checksums of what crossed the link, the kernel log's
//! complaints, and the CGI that shows the host the guest's counters.

use anyhow::Result;
use std::path::Path;

use crate::util::output;

/// What a suite's checks came to; each check is printed as it is recorded.
#[derive(Default)]
pub(crate) struct Results {
    pub passed: u32,
    /// The names of the checks that failed, in order, so that a summary at the end of a
    /// long log (CI keeps only its tail) still says which.
    pub failed: Vec<String>,
    /// Checks this kernel cannot run (a part its profile leaves out), by name.
    pub skipped: Vec<String>,
}

impl Results {
    pub(crate) fn record(&mut self, name: &str, r: Result<()>) {
        match r {
            Ok(()) => {
                self.passed += 1;
                println!("guest test {name} ... ok");
            }
            Err(e) => {
                self.failed.push(name.to_string());
                println!("guest test {name} ... FAILED: {e:#}");
            }
        }
    }

    /// A check left out on this kernel, and why.
    pub(crate) fn skip(&mut self, name: &str, why: &str) {
        self.skipped.push(name.to_string());
        println!("guest test {name} ... skipped: {why}");
    }
}

/// curl as the suites run it (errors only, 120 s at most) with `args`; its output.
pub(crate) fn curl(args: &[&str]) -> Result<String> {
    let mut full = vec!["-sS", "--max-time", "120"];
    full.extend_from_slice(args);
    output("curl", &full, Path::new("."), &[])
}

/// The guest's /proc/net/snmp (and MemFree), through the guest's snmp.cgi (`SNMP_CGI`)
/// served at `base`.
pub(crate) fn guest_snmp(base: &str) -> Result<String> {
    curl(&["-f", "-m", "10", &format!("{base}/cgi-bin/snmp")])
}

/// The SHA-256 of file `p`, in hex: of what the host got from a guest, or sent it.
pub(crate) fn sha256(p: &Path) -> Result<String> {
    let out = output("sha256sum", &[&p.to_string_lossy()], Path::new("."), &[])?;
    Ok(out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Lines of the kernel log that mean a bug.
pub(crate) fn kernel_complaints(console: &str) -> Vec<String> {
    const BAD: &[&str] = &[
        "BUG:",
        "WARNING:",
        "Oops",
        "Kernel panic",
        "rinet: Rust panic",
        "possible circular locking",
        "inconsistent lock state",
        "sleeping function called from invalid context",
        "KASAN",
    ];
    console
        .lines()
        .filter(|l| BAD.iter().any(|b| l.contains(b)))
        .map(str::to_string)
        .collect()
}

/// The guest's counters and free memory, for the host: /proc/net/snmp, then "MemFree KB".
pub const SNMP_CGI: &[u8] = include_bytes!("../../guest/snmp.cgi");

/// A counter from /proc/net/snmp text (a header line, then a value line, per `group`), or
/// "MemFree".
pub fn snmp_value(text: &str, group: &str, name: &str) -> Option<u64> {
    if group == "MemFree" {
        return text
            .lines()
            .find_map(|l| l.strip_prefix("MemFree ")?.trim().parse().ok());
    }
    let prefix = format!("{group}:");
    let mut rows = text.lines().filter(|l| l.starts_with(&prefix));
    let (names, values) = (rows.next()?, rows.next()?);
    let at = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_values_by_group_and_name() {
        // As the glue prints them (af_rinet.c), then the CGI's MemFree line.
        let text = "Udp: InDatagrams NoPorts InErrors OutDatagrams\nUdp: 4 3 0 9\n\
                    Rinet: RxDrops ListenOverflows TimerFires SynQueueEvictions HeapBytes\n\
                    Rinet: 12 0 37 2701 90112\n\
                    RinetDrops: Truncated MartianSrcLoopback ArpMartian\n\
                    RinetDrops: 0 3 1\nMemFree 201344\n";
        assert_eq!(snmp_value(text, "Udp", "NoPorts"), Some(3));
        assert_eq!(snmp_value(text, "Rinet", "SynQueueEvictions"), Some(2701));
        assert_eq!(snmp_value(text, "Rinet", "HeapBytes"), Some(90_112));
        assert_eq!(
            snmp_value(text, "RinetDrops", "MartianSrcLoopback"),
            Some(3)
        );
        assert_eq!(snmp_value(text, "RinetDrops", "ArpMartian"), Some(1));
        assert_eq!(snmp_value(text, "MemFree", ""), Some(201_344));
        assert_eq!(snmp_value(text, "Udp", "IgnoredMulti"), None);
        assert_eq!(snmp_value(text, "Icmp", "InMsgs"), None);
    }
}
