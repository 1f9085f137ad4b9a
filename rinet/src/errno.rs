//! Linux errno values, with the meaning Linux gives them.
//!
//! Every fallible call of the socket layer returns `Result<T, Errno>`; the C ABI turns an
//! `Errno` into the negative value the kernel returns to user space.

/// A Linux error number (positive, as in `<asm-generic/errno-base.h>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident = $val:expr;)*) => {
        impl Errno {
            $(pub const $name: Errno = Errno($val);)*
        }
    };
}

errnos! {
    EPERM = 1;
    EINTR = 4;
    ENXIO = 6;
    EBADF = 9;
    EAGAIN = 11;
    ENOMEM = 12;
    EACCES = 13;
    EFAULT = 14;
    EINVAL = 22;
    EPIPE = 32;
    ENOTSOCK = 88;
    EDESTADDRREQ = 89;
    EMSGSIZE = 90;
    EPROTOTYPE = 91;
    ENOPROTOOPT = 92;
    EPROTONOSUPPORT = 93;
    ESOCKTNOSUPPORT = 94;
    EOPNOTSUPP = 95;
    EAFNOSUPPORT = 97;
    EADDRINUSE = 98;
    EADDRNOTAVAIL = 99;
    ENETDOWN = 100;
    ENETUNREACH = 101;
    ECONNABORTED = 103;
    ECONNRESET = 104;
    ENOBUFS = 105;
    EISCONN = 106;
    ENOTCONN = 107;
    ETIMEDOUT = 110;
    ECONNREFUSED = 111;
    EHOSTUNREACH = 113;
    EALREADY = 114;
    EINPROGRESS = 115;
    ENODEV = 19;
    EEXIST = 17;
    ENOENT = 2;
    ESRCH = 3;
    ENONET = 64;
    EPROTO = 71;
    EHOSTDOWN = 112;
}

/// Result of a socket-layer call.
pub type SysResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_linux() {
        assert_eq!(Errno::EAGAIN.0, 11);
        assert_eq!(Errno::ECONNREFUSED.0, 111);
        assert_eq!(Errno::EINPROGRESS.0, 115);
        assert_eq!(Errno::ESOCKTNOSUPPORT.0, 94);
    }
}
