//! UDP echo (server and client) and ICMP echo (ping) over rinet.

use rinet::socket::{IPPROTO_ICMP, SOCK_DGRAM, SOCK_RAW};
use rinet::wire::{csum_add, csum_fold};
use rinet::{Endpoint, Errno, Ipv4};

use crate::capi::{Host, Sock};

pub struct EchoServer {
    s: Sock,
    pub echoed: u64,
}

impl EchoServer {
    pub fn new(h: &mut Host, port: u16) -> Result<EchoServer, Errno> {
        let s = h.socket(SOCK_DGRAM, 0)?;
        h.bind(s, Endpoint::new(Ipv4::ANY, port))?;
        Ok(EchoServer { s, echoed: 0 })
    }

    pub fn step(&mut self, h: &mut Host) -> bool {
        let mut buf = [0u8; 2048];
        let mut progress = false;
        while let Ok((n, from)) = h.recv_from(self.s, &mut buf) {
            if h.send_to(self.s, &buf[..n], from).is_ok() {
                self.echoed += 1;
            }
            progress = true;
        }
        progress
    }
}

/// Send `count` datagrams to an echo server; returns how many came back intact.
pub fn udp_echo_client(h: &mut Host, to: Endpoint, count: u32) -> Result<u32, Errno> {
    let s = h.socket(SOCK_DGRAM, 0)?;
    let mut ok = 0;
    let mut buf = [0u8; 2048];
    for i in 0..count {
        let msg = format!("rinet datagram {i}");
        // Up to 3 tries per datagram, 1 s each.
        'tries: for _ in 0..3 {
            h.send_to(s, msg.as_bytes(), to)?;
            let deadline = h.now_us() + 1_000_000;
            while h.now_us() < deadline {
                match h.recv_from(s, &mut buf) {
                    Ok((n, from)) if from == to && &buf[..n] == msg.as_bytes() => {
                        ok += 1;
                        break 'tries;
                    }
                    Ok(_) => {}
                    Err(_) => h.pump(20),
                }
            }
        }
    }
    h.close(s)?;
    Ok(ok)
}

/// ICMP echo through a raw socket, as busybox ping does: one request a second, replies
/// counted whenever they arrive (the first may wait for ARP), up to 2 s after the last.
pub fn ping(h: &mut Host, to: Ipv4, count: u16) -> Result<u16, Errno> {
    let s = h.socket(SOCK_RAW, IPPROTO_ICMP.into())?;
    let ident: u16 = 0x7269;
    let mut replied = vec![false; usize::from(count) + 1];
    let mut buf = [0u8; 2048];
    let mut next_send = h.now_us();
    let mut seq: u16 = 0;
    let mut deadline = u64::MAX;
    while h.now_us() < deadline {
        if seq < count && h.now_us() >= next_send {
            seq += 1;
            let mut pkt = vec![8, 0, 0, 0];
            pkt.extend_from_slice(&ident.to_be_bytes());
            pkt.extend_from_slice(&seq.to_be_bytes());
            pkt.extend_from_slice(b"rinet ping payload");
            let sum = csum_fold(csum_add(0, &pkt));
            pkt[2..4].copy_from_slice(&sum.to_be_bytes());
            h.send_to(s, &pkt, Endpoint::new(to, 0))?;
            next_send += 1_000_000;
            if seq == count {
                deadline = h.now_us() + 2_000_000;
            }
        }
        match h.recv_from(s, &mut buf) {
            Ok((n, from)) => {
                let ihl = usize::from(buf[0] & 0xf) * 4;
                let icmp = &buf[ihl.min(n)..n];
                if from.addr == to
                    && icmp.len() >= 8
                    && icmp[0] == 0
                    && icmp[4..6] == ident.to_be_bytes()
                {
                    let got = usize::from(u16::from_be_bytes([icmp[6], icmp[7]]));
                    if let Some(r) = replied.get_mut(got).filter(|r| !**r) {
                        *r = true;
                        println!("reply from {}: icmp_seq={got}", fmt_ip(to));
                    }
                }
            }
            Err(_) => h.pump(20),
        }
    }
    h.close(s)?;
    Ok(replied.iter().filter(|r| **r).count() as u16)
}

pub fn fmt_ip(a: Ipv4) -> String {
    a.0.map(|b| b.to_string()).join(".")
}
