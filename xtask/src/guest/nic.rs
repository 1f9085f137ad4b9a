//! The offload build on a device that can neither cut TCP segments nor sum them: QEMU's
//! virtio-net with both off (on QEMU's user network, the one `runqemu` gives
//! qemux86-64, virtio-net has no TSO either). rinet still builds segments of many MSS,
//! in frames the glue lends; the glue finds that the device cannot take them, and rinet
//! cuts and sums each itself. The e1000 of the other suites takes them whole.

use crate::util::fs;
use anyhow::{bail, Result};
use std::path::Path;
use std::time::Duration;

use crate::image;
use crate::kernel::Spec;
use crate::qemu::{
    curl, guest_snmp, kernel_complaints, sha256, snmp_value, tail, Guest, Results, SNMP_CGI,
    STATIC_NET,
};
use crate::util::cache_dir;

/// virtio-net with TSO and checksum offload off.
const NO_OFFLOAD: &str = "virtio-net-pci,netdev=n0,host_tso4=off,guest_tso4=off,csum=off";
const SIZE: u64 = 16 << 20;

/// Two downloads of the guest's 16 MiB random file: whole and the same, nothing handed
/// to the device to segment, no kernel complaint.
pub(super) fn suite_nic(spec: Spec, build: &Path, res: &mut Results) -> Result<()> {
    let work = cache_dir()
        .join("guest")
        .join(format!("{}-nic", spec.name()));
    fs::create_dir_all(&work)?;
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![
            image::rc_local(include_bytes!("../../guest/rc.nic")),
            image::cgi("snmp", SNMP_CGI),
        ],
    )?;
    let g = Guest::boot_with_nic(
        spec.arch,
        &build.join("arch/x86/boot/bzImage"),
        &initrd,
        STATIC_NET,
        work.join("console.log"),
        NO_OFFLOAD,
    )?;
    g.wait_for("GUEST-NIC-READY", Duration::from_secs(120))?;
    let base = format!("http://127.0.0.1:{}", g.http_port);
    let offloaded = || -> Result<u64> {
        let snmp = guest_snmp(&base)?;
        snmp_value(&snmp, "Rinet", "TxOffloadFrames")
            .ok_or_else(|| anyhow::anyhow!("no Rinet TxOffloadFrames in:\n{snmp}"))
    };
    let before = offloaded();
    let mut sums = Vec::new();
    for name in ["a.bin", "b.bin"] {
        let out = work.join(name);
        let r = curl(&[
            "-f",
            "-o",
            &out.to_string_lossy(),
            &format!("{base}/big.bin"),
        ])
        .and_then(|_| {
            let len = fs::metadata(&out)?.len();
            if len != SIZE {
                bail!("{len} bytes of {SIZE}");
            }
            sha256(&out)
        });
        sums.push(r);
    }
    let same = match (&sums[0], &sums[1]) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(a), Ok(b)) => Err(anyhow::anyhow!("two downloads differ: {a} and {b}")),
        (Err(e), _) | (_, Err(e)) => Err(anyhow::anyhow!("{e:#}")),
    };
    res.record("nic-without-offload-downloads-whole-and-same", same);
    let none_offloaded = match (before, offloaded()) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(a), Ok(b)) => Err(anyhow::anyhow!(
            "{} frames handed to a device without TSO to segment",
            b - a
        )),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    res.record("nic-without-offload-nothing-to-segment", none_offloaded);
    let console = g.console();
    let complaints = kernel_complaints(&console);
    res.record(
        "nic-without-offload-no-kernel-complaint",
        if complaints.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "{}\n{}",
                complaints.join("\n"),
                tail(&console, 20)
            ))
        },
    );
    for name in ["a.bin", "b.bin"] {
        let _ = std::fs::remove_file(work.join(name));
    }
    Ok(())
}
