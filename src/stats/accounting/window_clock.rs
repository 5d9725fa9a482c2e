//! The hashrate windows' clock: the wall clock, made monotonic. Shares carry the wall time
//! they were judged at, and a wall clock can step backwards (an NTP step, an operator's
//! `date -s`); a window fed that time would hold every share after the step at its last
//! share's moment, with its seconds stopped, and read a hashrate too high until the clock
//! caught up. Here a step back is taken out: time goes on from the last reading, and later
//! readings keep the same offset. Small disorder (shares from many connections reach the
//! books a little out of order) passes through as it is; the windows clamp it themselves.
//! A step forward cannot be told from time passing and is left as it is. ckpool's files
//! and the decaying rates keep the wall time.

/// How far back a reading may go before it is taken for a step of the clock.
const STEP_SECS: f64 = 5.0;

/// The windows' clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowClock {
    /// The latest time given (windows' time).
    last: f64,
    /// Added to the wall clock: the steps back taken out so far.
    offset: f64,
    /// The offset before the last step: a share timed before the step but booked after
    /// it is read with this one.
    previous: f64,
}

impl WindowClock {
    /// The windows' time for a wall-clock reading (unix seconds).
    pub fn at(&mut self, wall: f64) -> f64 {
        if !wall.is_finite() {
            return self.last;
        }
        let mut t = wall + self.offset;
        if t > self.last + STEP_SECS && (wall + self.previous - self.last).abs() <= STEP_SECS {
            // Timed just before the last step, booked after it: not a jump forward.
            return wall + self.previous;
        }
        if t < self.last - STEP_SECS {
            self.previous = self.offset;
            self.offset += self.last - t;
            t = self.last;
        }
        self.last = self.last.max(t);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_back_is_taken_out_and_disorder_passes() {
        let mut c = WindowClock::default();
        assert_eq!(c.at(1000.0), 1000.0);
        assert_eq!(c.at(1010.0), 1010.0);
        // A share judged a second before the last one: as it is.
        assert_eq!(c.at(1009.0), 1009.0);
        // The clock steps back an hour: time goes on from the last reading.
        assert_eq!(c.at(1011.0 - 3600.0), 1010.0);
        assert_eq!(c.at(1020.0 - 3600.0), 1019.0);
        // A share timed just before the step and booked after it is read as before it,
        // not as an hour ahead.
        assert_eq!(c.at(1015.0), 1015.0);
        assert_eq!(c.at(1021.0 - 3600.0), 1020.0);
        // A step forward is time passing.
        assert_eq!(c.at(5000.0 - 3600.0), 4999.0);
        assert_eq!(c.at(f64::NAN), 4999.0);
    }
}
