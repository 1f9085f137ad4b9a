//! The demo and the benchmark. Both run rinet-host on a TAP device inside a network
//! namespace they create and remove; nothing leaves the machine.

pub fn demo(_seconds: u64) -> Result<(), String> {
    Err("demo: not yet".into())
}

pub fn bench() -> Result<(), String> {
    Err("bench: not yet".into())
}
