//! The `echo-health` command: parse arguments, call [`cli::run`], print the error chain once,
//! exit with the code the outcome calls for (0 ok, 1 a gate failed, 2 errors).

mod cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    // a closed pipe (`echo-health validate ... | head`) ends the process quietly, as for
    // any Unix filter, instead of panicking in println!
    // SAFETY: setting a signal disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // logging starts in cli::run, once --log-format and --quiet are known
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
