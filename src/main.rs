fn main() -> std::process::ExitCode {
    dsprov::cli::main()
}
