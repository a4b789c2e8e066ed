//! The `harpoon` binary: everything lives in the library.

/// mimalloc, not glibc's malloc: under a long mixed load glibc kept the memory of freed import
/// buffers in its per-thread arenas and the RSS climbed for as long as the soak ran (ARCHITECTURE.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    harpoon::cli::main()
}
