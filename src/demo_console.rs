//! The demo's console: its status block redrawn in place on a terminal (printed line after
//! line anywhere else, so a pipe or a CI log reads as before), lines that stay above it,
//! and progress on long waits (the seconds so far, redrawn, then how long it took).

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often a wait's progress is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// A wait shorter than this is not worth a line of its own.
const SAY_WAITS_OVER: Duration = Duration::from_secs(1);

/// Erase the whole line, cursor to its start (ANSI).
const CLEAR_LINE: &str = "\r\x1b[2K";
/// Erase from the cursor to the end of the screen (ANSI).
const CLEAR_BELOW: &str = "\x1b[J";
/// Auto-wrap off (DECAWM reset): a long line is cut at the terminal's edge.
const NO_WRAP: &str = "\x1b[?7l";
/// Auto-wrap back on.
const WRAP: &str = "\x1b[?7h";

/// Writes the demo's output to stdout.
#[derive(Debug)]
pub struct Console {
    in_place: bool,
    /// Status lines on screen below the cursor's line start (in place only).
    drawn: usize,
}

impl Console {
    /// A console that redraws in place (`in_place`: stdout is a terminal nothing else
    /// writes to) or prints every line.
    pub fn new(in_place: bool) -> Self {
        Console { in_place, drawn: 0 }
    }

    /// The text that takes the previous status block off the screen.
    fn erase(&mut self) -> String {
        let up = std::mem::take(&mut self.drawn);
        if !self.in_place || up == 0 {
            return String::new();
        }
        format!("\x1b[{up}A\r{CLEAR_BELOW}")
    }

    fn write(text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (the demo piped into `head`) is no reason to stop mining.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Shows the status lines: over the last ones on a terminal, after them elsewhere.
    /// In place, the terminal's line wrap is off while they are drawn, so a line wider
    /// than the terminal is cut at its edge and each takes exactly the one row `erase`
    /// moves back over.
    pub fn status(&mut self, lines: &[String]) {
        let mut text = self.erase();
        if self.in_place {
            text.push_str(NO_WRAP);
        }
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        if self.in_place {
            text.push_str(WRAP);
            self.drawn = lines.len();
        }
        Self::write(&text);
    }

    /// A line that stays (the status block is drawn again below it at the next update).
    pub fn line(&mut self, line: &str) {
        let mut text = self.erase();
        text.push_str(line);
        text.push('\n');
        Self::write(&text);
    }

    /// Awaits `work`, showing `what` and the seconds waited so far on a terminal; once
    /// done, says how long it took when that was more than a second.
    pub async fn wait<T>(&mut self, what: &str, work: impl Future<Output = T>) -> T {
        let started = Instant::now();
        tokio::pin!(work);
        let mut ticker = tokio::time::interval(PROGRESS_EVERY);
        let out = loop {
            tokio::select! {
                out = &mut work => break out,
                _ = ticker.tick() => {
                    if self.in_place && started.elapsed() >= PROGRESS_EVERY {
                        let text = format!(
                            "{}{CLEAR_LINE}{what}… {:.0} s",
                            self.erase(),
                            started.elapsed().as_secs_f64()
                        );
                        Self::write(&text);
                    }
                }
            }
        };
        let took = started.elapsed();
        let mut text = if self.in_place {
            CLEAR_LINE.to_string()
        } else {
            String::new()
        };
        if took >= SAY_WAITS_OVER {
            text.push_str(&format!("{what}: {:.1} s\n", took.as_secs_f64()));
        }
        Self::write(&text);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_the_old_block_is_erased_first() {
        let mut c = Console::new(true);
        assert_eq!(c.erase(), "", "nothing drawn yet");
        c.drawn = 3;
        assert_eq!(c.erase(), "\x1b[3A\r\x1b[J");
        assert_eq!(c.drawn, 0);
        let mut piped = Console::new(false);
        piped.drawn = 3;
        assert_eq!(piped.erase(), "", "a pipe gets plain lines");
    }
}
