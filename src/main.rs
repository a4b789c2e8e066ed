//! The `harpoon` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    harpoon::cli::main()
}
