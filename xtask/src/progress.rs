//! Progress a person can follow through a long command: which step runs, how many there
//! are, how long each took and the whole. Plain lines on stderr, so that they read the
//! same in CI's log as on a terminal, between the commands' own output; on a terminal the
//! step lines are bold, to stand out from make's and cargo's.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The numbered steps of one command. Each [`Steps::step`] ends the step before it;
/// [`Steps::finish`] ends the last and prints the total. A step that an error (or a
/// panic) leaves unfinished is reported as stopped, not as done.
pub struct Steps {
    total: usize,
    number: usize,
    started: Instant,
    current: Option<(String, Instant)>,
    bold: bool,
}

impl Steps {
    pub fn new(total: usize) -> Steps {
        Steps {
            total,
            number: 0,
            started: Instant::now(),
            current: None,
            bold: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// End the running step, if any, and start the next: `[2/7] building the kernel`.
    pub fn step(&mut self, name: impl Into<String>) {
        self.end("done in");
        self.number += 1;
        let name = name.into();
        let line = format!("{} {name}", self.counter());
        if self.bold {
            eprintln!("\x1b[1m{line}\x1b[0m");
        } else {
            eprintln!("{line}");
        }
        self.current = Some((name, Instant::now()));
    }

    /// End the last step and print the whole command's time.
    pub fn finish(mut self) {
        self.end("done in");
        eprintln!(
            "{} of {} steps done in {}",
            self.number,
            self.total,
            duration(self.started.elapsed())
        );
    }

    /// `[n/N]`; the total grows if more steps ran than announced, rather than print 8/7.
    fn counter(&self) -> String {
        format!("[{}/{}]", self.number, self.total.max(self.number))
    }

    fn end(&mut self, verb: &str) {
        if let Some((name, since)) = self.current.take() {
            eprintln!(
                "{} {name}: {verb} {}",
                self.counter(),
                duration(since.elapsed())
            );
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        // Only an early return (an error) or a panic gets here with a step running.
        self.end("stopped after");
    }
}

/// Run `work` while a thread measures how far it has got, with `measure` every few seconds
/// against an `expected` end if there is one, and prints a line every 10% or every 30 s:
/// `kernel x86_64-rinet: ~40% (1,234 of ~3,100 objects), 2m 10s`. For work whose own
/// output says nothing of how far it is (make).
pub fn watched<T>(
    what: &str,
    unit: &str,
    expected: Option<u64>,
    measure: impl Fn() -> u64 + Sync,
    work: impl FnOnce() -> T,
) -> T {
    let started = Instant::now();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let measure = &measure;
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut last = (None, Instant::now());
            // The sender dropped (the work ended) or gone: stop measuring.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_secs(5))
            {
                let done = measure();
                let now = percent(done, expected);
                if due(now, last.0, last.1.elapsed()) {
                    eprintln!(
                        "{what}: {}, {}",
                        how_far(done, expected, unit),
                        duration(started.elapsed())
                    );
                    last = (now, Instant::now());
                }
            }
        });
        let result = work();
        drop(stop);
        result
    })
}

/// A new line when the work has passed another tenth since the last line, or 30 s have
/// gone by without one.
fn due(now: Option<u64>, last: Option<u64>, since_last: Duration) -> bool {
    let tenth = |p: Option<u64>| p.map(|p| p / 10);
    tenth(now) > tenth(last) || since_last >= Duration::from_secs(30)
}

/// `~40% (1,234 of ~3,100 objects)`, or `1,234 objects` without an estimate.
fn how_far(done: u64, expected: Option<u64>, unit: &str) -> String {
    match (percent(done, expected), expected) {
        (Some(p), Some(e)) => format!("~{p}% ({} of ~{} {unit})", count(done), count(e)),
        _ => format!("{} {unit}", count(done)),
    }
}

/// A duration as a person reads it: `42s`, `1m 12s`, `1h 03m`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// How far `done` is of an `expected` that is only an estimate: never 100% before the
/// work has ended, and nothing at all without an estimate.
pub fn percent(done: u64, expected: Option<u64>) -> Option<u64> {
    match expected {
        Some(e) if e > 0 => Some((done * 100 / e).min(99)),
        _ => None,
    }
}

/// A count with thousands separators: `3,100`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_says_them() {
        let s = Duration::from_secs;
        assert_eq!(duration(Duration::from_millis(999)), "0s");
        assert_eq!(duration(s(59)), "59s");
        assert_eq!(duration(s(60)), "1m 00s");
        assert_eq!(duration(s(72)), "1m 12s");
        assert_eq!(duration(s(3599)), "59m 59s");
        assert_eq!(duration(s(3600 + 3 * 60 + 59)), "1h 03m");
    }

    #[test]
    fn an_estimate_never_claims_the_end() {
        assert_eq!(percent(0, Some(3100)), Some(0));
        assert_eq!(percent(1240, Some(3100)), Some(40));
        assert_eq!(percent(3100, Some(3100)), Some(99));
        assert_eq!(percent(5000, Some(3100)), Some(99));
        assert_eq!(percent(10, None), None);
        assert_eq!(percent(10, Some(0)), None);
    }

    #[test]
    fn a_line_every_tenth_or_every_half_minute() {
        let s = Duration::from_secs;
        assert!(!due(Some(19), Some(10), s(5)));
        assert!(due(Some(20), Some(19), s(5)));
        assert!(due(Some(3), None, s(5)), "the first tenth");
        assert!(!due(None, None, s(29)));
        assert!(due(None, None, s(30)));
        assert!(due(Some(11), Some(10), s(30)));
    }

    #[test]
    fn how_far_says_the_estimate_only_when_there_is_one() {
        assert_eq!(
            how_far(1234, Some(3100), "objects"),
            "~39% (1,234 of ~3,100 objects)"
        );
        assert_eq!(how_far(1234, None, "objects"), "1,234 objects");
    }

    #[test]
    fn watched_returns_what_the_work_returns() {
        let measured = std::sync::atomic::AtomicBool::new(false);
        let r = watched(
            "test",
            "things",
            Some(10),
            || {
                measured.store(true, std::sync::atomic::Ordering::Relaxed);
                1
            },
            || 42,
        );
        assert_eq!(r, 42);
        // It ended before the first measurement was due: no waiting on the watcher.
        assert!(!measured.load(std::sync::atomic::Ordering::Relaxed));
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1234), "1,234");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn the_counter_numbers_the_steps_and_grows_past_its_total() {
        let mut steps = Steps::new(2);
        assert_eq!(steps.counter(), "[0/2]");
        steps.step("one");
        assert_eq!(steps.counter(), "[1/2]");
        assert_eq!(steps.current.as_ref().unwrap().0, "one");
        steps.step("two");
        steps.step("three");
        assert_eq!(steps.counter(), "[3/3]");
        steps.finish();
    }
}
