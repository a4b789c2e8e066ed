//! What several benchmarks share (each bench is a crate of its own: `mod common;`).

/// CPU time of this process, all threads (user + system), from `/proc/self/stat`, in clock ticks
/// of 10 ms: on a shared machine wall time includes waiting for a core, CPU time does not.
pub fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the command name.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}
