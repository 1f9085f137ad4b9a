//! ICMP errors reaching sockets, as Linux's `tcp_v4_err` and `__udp4_lib_err` deliver them
//! without IP_RECVERR: a hard error fails a connection still in its handshake (when the
//! quoted SYN carries its sequence number) and becomes the pending error of a connected
//! UDP socket. Soft errors (time exceeded, "fragmentation needed", TOS unreachables), and
//! any error about an established connection, change nothing.

use super::Core;
use super::{Proto, Tcp};
use crate::errno::Errno;
use crate::platform::Platform;
use crate::wire::{Quoted, ICMP_DEST_UNREACH, ICMP_PARAMETER_PROB, IPPROTO_TCP, IPPROTO_UDP};

/// The errno of a hard ICMP error (Linux's `icmp_err_convert` with `fatal` set).
pub fn hard_error(ty: u8, code: u8) -> Option<Errno> {
    Some(match (ty, code) {
        (ICMP_DEST_UNREACH, 0 | 6 | 9) => Errno::ENETUNREACH,
        (ICMP_DEST_UNREACH, 1 | 10 | 13..=15) => Errno::EHOSTUNREACH,
        (ICMP_DEST_UNREACH, 2) => Errno::ENOPROTOOPT,
        (ICMP_DEST_UNREACH, 3) => Errno::ECONNREFUSED,
        (ICMP_DEST_UNREACH, 7) => Errno::EHOSTDOWN,
        (ICMP_DEST_UNREACH, 8) => Errno::ENONET,
        (ICMP_PARAMETER_PROB, _) => Errno::EPROTO,
        _ => return None,
    })
}

impl<P: Platform> Core<P> {
    /// An ICMP error of type `ty` and `code` arrived about the datagram `q` quotes.
    pub(crate) fn icmp_error(&mut self, ty: u8, code: u8, q: Quoted) {
        let Some(err) = hard_error(ty, code) else {
            return;
        };
        for i in 0..self.socks.slot_count() {
            let Some(id) = self.socks.id_at(i) else {
                continue;
            };
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            match &s.proto {
                Proto::Tcp(Tcp::Conn(c))
                    if q.proto == IPPROTO_TCP
                        && !c.established
                        && (c.local, c.remote) == (q.src, q.dst)
                        && c.isn == Some(q.seq) =>
                {
                    let r = c.r;
                    self.engine.tcp_abort(r);
                    self.end_conn(id, r, false, Some(err));
                    return;
                }
                Proto::Udp(_)
                    if q.proto == IPPROTO_UDP
                        && s.remote == Some(q.dst)
                        && s.local.port == q.src.port =>
                {
                    s.err = Some(err);
                    return;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_and_soft_errors_as_linux() {
        assert_eq!(hard_error(3, 3), Some(Errno::ECONNREFUSED));
        assert_eq!(hard_error(3, 1), Some(Errno::EHOSTUNREACH));
        assert_eq!(hard_error(3, 0), Some(Errno::ENETUNREACH));
        assert_eq!(hard_error(12, 0), Some(Errno::EPROTO));
        // Soft: fragmentation needed, TOS unreachables, time exceeded; unknown codes.
        for (ty, code) in [(3, 4), (3, 11), (3, 12), (11, 0), (3, 16), (5, 0)] {
            assert_eq!(hard_error(ty, code), None, "{ty}/{code}");
        }
    }
}
