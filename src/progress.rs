//! Progress on a terminal for a run's long steps: one spinner per step with what it is doing,
//! replaced by a line with its time when done. Drawn on stderr only when stderr is a terminal
//! and neither `--quiet` nor JSON logs were asked for; otherwise every call does nothing
//! (logs and CI output stay clean).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);
static CURRENT: Mutex<Option<(ProgressBar, &'static str, Instant)>> = Mutex::new(None);

/// Turns progress on when stderr is a terminal and `wanted` (not `--quiet`, text logs).
pub fn enable(wanted: bool) {
    use std::io::IsTerminal;
    ENABLED.store(wanted && std::io::stderr().is_terminal(), Ordering::SeqCst);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Ends the current step (a line with its time) and starts `name`.
pub fn step(name: &'static str) {
    if !enabled() {
        return;
    }
    finish();
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_prefix(name);
    pb.enable_steady_tick(Duration::from_millis(120));
    if let Ok(mut c) = CURRENT.lock() {
        *c = Some((pb, name, Instant::now()));
    }
}

/// What the current step is doing ("3 of 5 sources done, github still reading").
pub fn message(text: String) {
    if !enabled() {
        return;
    }
    if let Ok(c) = CURRENT.lock() {
        if let Some((pb, _, _)) = c.as_ref() {
            pb.set_message(text);
        }
    }
}

/// Ends the current step, if any.
pub fn finish() {
    if !enabled() {
        return;
    }
    if let Ok(mut c) = CURRENT.lock() {
        if let Some((pb, name, t0)) = c.take() {
            pb.finish_and_clear();
            eprintln!("  {name} {:.2} s", t0.elapsed().as_secs_f64());
        }
    }
}
