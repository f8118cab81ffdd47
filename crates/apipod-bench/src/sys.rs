//! Process measurements from `/proc` (Linux): resident memory, its peak, and CPU time.
//!
//! No allocator hooks: what is measured is what the kernel charges to the process, which
//! is what a user of the SDK pays.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A `kB` field (`VmRSS`, `VmHWM`, ...) of `/proc/<pid>/status`, in KiB.
pub fn status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// This process's resident set size, in KiB.
pub fn rss_kib() -> u64 {
    status_kib(None, "VmRSS").unwrap_or(0)
}

/// This process's peak resident set size since start (or since [`reset_peak_rss`]), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib(None, "VmHWM").unwrap_or(0)
}

/// Resets the kernel's peak-RSS counter (`VmHWM`) to the current RSS, by writing `5` to
/// `/proc/self/clear_refs`. Returns false where that is not supported.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Clock ticks per second used by `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 if unknown).
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// User plus system CPU time of a process (this one for `None`) so far.
pub fn cpu_time(pid: Option<u32>) -> Duration {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may contain spaces) start at `state`; utime and
    // stime are fields 14 and 15 of the whole line, i.e. 12 and 13 after the name.
    let Some(rest) = text.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / clock_ticks())
}

/// CPU time of the calling thread alone, nanoseconds (`/proc/thread-self/schedstat`).
pub fn own_thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
}

/// CPU time of all threads of this process with nanosecond resolution (the scheduler's
/// accounting in `/proc/self/task/*/schedstat`), for measuring short stretches. Threads
/// that already exited are not counted: compare readings taken around work done by
/// long-lived threads.
pub fn thread_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Bytes of heap in use (allocated and not yet freed, allocator chunk headers included),
/// from glibc's `mallinfo2` over all arenas; `None` where glibc is not the allocator.
/// Unlike RSS, this does not include memory that was freed but not returned to the system.
pub fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[repr(C)]
        struct MallInfo2 {
            arena: usize,
            ordblks: usize,
            smblks: usize,
            hblks: usize,
            hblkhd: usize,
            usmblks: usize,
            fsmblks: usize,
            uordblks: usize,
            fordblks: usize,
            keepcost: usize,
        }
        unsafe extern "C" {
            fn mallinfo2() -> MallInfo2;
        }
        // SAFETY: `mallinfo2` (glibc >= 2.33) takes no arguments and returns a plain struct
        // of `size_t` fields by value; it only reads the allocator's statistics.
        let info = unsafe { mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Established IPv4 TCP connections (of any process in this network namespace) whose
/// remote port is `port`: the client side of connections to a local server on that port.
pub fn connections_to(port: u16) -> usize {
    let Ok(text) = std::fs::read_to_string("/proc/net/tcp") else {
        return 0;
    };
    text.lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|r| r.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && fields.get(3) == Some(&"01")
        })
        .count()
}

/// Samples this process's RSS on a background thread and keeps the largest value.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max_kib: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling every `every`.
    pub fn start(every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max_kib = Arc::new(AtomicU64::new(rss_kib()));
        let thread = {
            let (stop, max_kib) = (stop.clone(), max_kib.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    max_kib.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(every);
                }
            })
        };
        RssSampler {
            stop,
            max_kib,
            thread: Some(thread),
        }
    }

    /// The largest RSS seen so far, in KiB.
    pub fn max_kib(&self) -> u64 {
        self.max_kib.load(Ordering::Relaxed)
    }

    /// Stops sampling and returns the largest RSS seen, in KiB.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.max_kib.load(Ordering::Relaxed).max(rss_kib())
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_cpu() {
        assert!(rss_kib() > 0);
        assert!(peak_rss_kib() >= rss_kib() / 2);
        let before = cpu_time(None);
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(cpu_time(None) >= before);
        let ns = thread_cpu_ns();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_ns() >= ns + 10_000_000);
        let sampler = RssSampler::start(Duration::from_millis(1));
        let block = vec![1u8; 8 << 20];
        std::thread::sleep(Duration::from_millis(20));
        std::hint::black_box(&block);
        assert!(sampler.stop() >= 8 * 1024);
        if let Some(before) = heap_in_use() {
            let block = vec![7u8; 4 << 20];
            assert!(heap_in_use().unwrap() >= before + (4 << 20));
            drop(block);
        }
    }

    #[test]
    fn counts_connections_to_a_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(connections_to(port), 0);
        let a = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let b = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(connections_to(port), 2);
        drop((a, b));
    }
}
