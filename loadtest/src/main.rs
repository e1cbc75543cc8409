//! The `lyceum-loadtest` binary; everything lives in the library (see `cli`).

fn main() -> std::process::ExitCode {
    lyceum_loadtest::cli::main()
}
