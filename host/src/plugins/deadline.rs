//! Call deadlines that count the plugin's own CPU time.
//!
//! The engine's epoch advances every tick of wall-clock time. When a call
//! reaches its epoch deadline, the callback here checks how much CPU time the
//! calling thread actually spent since the call began: a plugin that was
//! merely descheduled (two cores, a compile running, a burst of requests)
//! gets the rest of its budget, a plugin that burnt it is interrupted. A wall
//! clock cap of `WALL_FACTOR` times the budget still bounds every call.

use std::time::{Duration, Instant};

use wasmtime::{StoreContextMut, UpdateDeadline};

use super::limits::EPOCH_TICK;
use super::store::HostState;

/// A call may take at most this many times its budget in wall-clock time.
pub const WALL_FACTOR: u32 = 20;

/// The running call's budget and start, kept in the store.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    budget: Duration,
    cpu_start: Duration,
    wall_start: Instant,
}

impl CallClock {
    /// Starts the clock for a call with `budget` of CPU time.
    pub fn start(budget: Duration) -> CallClock {
        CallClock {
            budget,
            cpu_start: thread_cpu_time(),
            wall_start: Instant::now(),
        }
    }

    /// The epoch ticks to arm for this call.
    pub fn ticks(&self) -> u64 {
        ticks_for(self.budget)
    }

    /// Decides, at an epoch deadline, whether the call goes on.
    fn update(&self) -> UpdateDeadline {
        let used = thread_cpu_time().saturating_sub(self.cpu_start);
        if used >= self.budget || self.wall_start.elapsed() >= self.budget * WALL_FACTOR {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Continue(ticks_for(self.budget - used))
        }
    }
}

fn ticks_for(d: Duration) -> u64 {
    let tick = EPOCH_TICK.as_micros().max(1);
    (d.as_micros().div_ceil(tick) as u64).max(1)
}

/// The epoch deadline callback every plugin store installs.
pub fn on_deadline(ctx: StoreContextMut<'_, HostState>) -> wasmtime::Result<UpdateDeadline> {
    Ok(match ctx.data().clock {
        Some(clock) => clock.update(),
        None => UpdateDeadline::Interrupt,
    })
}

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is
    // supported on every Linux and macOS this runs on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descheduled_call_keeps_its_budget_and_a_busy_one_does_not() {
        let clock = CallClock::start(Duration::from_millis(20));
        // Sleeping uses no CPU: the call goes on.
        std::thread::sleep(Duration::from_millis(30));
        assert!(matches!(clock.update(), UpdateDeadline::Continue(_)));
        // Spinning does.
        let spin = thread_cpu_time();
        while thread_cpu_time() - spin < Duration::from_millis(25) {
            std::hint::black_box(0);
        }
        assert!(matches!(clock.update(), UpdateDeadline::Interrupt));
    }

    #[test]
    fn wall_clock_cap_still_applies() {
        let clock = CallClock::start(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(1) * (WALL_FACTOR + 5));
        assert!(matches!(clock.update(), UpdateDeadline::Interrupt));
    }
}
