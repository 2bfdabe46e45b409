//! Call deadlines that do not fire on a plugin that was merely descheduled.
//!
//! The engine's epoch advances every tick of wall-clock time, and each call
//! arms a deadline of its budget. Most calls finish in microseconds and
//! never reach it, so arming costs one `Instant::now` (the thread CPU clock
//! is a system call, too dear for every call). When a call does reach its
//! deadline, it is watched for a short window: if the calling thread spent
//! most of that window on the CPU, the plugin is working, not waiting, and
//! it is interrupted; if not (two cores, a compile running, a burst of
//! requests), it gets another window. A wall-clock cap of `WALL_FACTOR`
//! times the budget still bounds every call.

use std::time::{Duration, Instant};

use wasmtime::{StoreContextMut, UpdateDeadline};

use super::limits::EPOCH_TICK;
use super::store::HostState;

/// A call may take at most this many times its budget in wall-clock time.
pub const WALL_FACTOR: u32 = 20;

/// Share of a watch window the thread must spend on the CPU for the plugin
/// to count as busy (three quarters).
const BUSY_NUM: u32 = 3;
const BUSY_DEN: u32 = 4;

/// The running call's budget and start, kept in the store.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    budget: Duration,
    wall_start: Instant,
    /// Set once the budget has passed: when the current watch window began,
    /// and the thread's CPU time then.
    watch: Option<(Instant, Duration)>,
}

impl CallClock {
    /// Starts the clock for a call with `budget`.
    pub fn start(budget: Duration) -> CallClock {
        CallClock {
            budget,
            wall_start: Instant::now(),
            watch: None,
        }
    }

    /// The epoch ticks to arm for this call.
    pub fn ticks(&self) -> u64 {
        ticks_for(self.budget)
    }

    /// The watch window: a quarter of the budget, at least two ticks.
    fn window(&self) -> Duration {
        (self.budget / 4).max(EPOCH_TICK * 2)
    }

    /// Decides, at an epoch deadline, whether the call goes on.
    fn update(&mut self) -> UpdateDeadline {
        let now = Instant::now();
        if now.duration_since(self.wall_start) >= self.budget * WALL_FACTOR {
            return UpdateDeadline::Interrupt;
        }
        let cpu = thread_cpu_time();
        if let Some((since, cpu_then)) = self.watch {
            let wall = now.duration_since(since);
            let used = cpu.saturating_sub(cpu_then);
            if used * BUSY_DEN >= wall * BUSY_NUM {
                return UpdateDeadline::Interrupt;
            }
        }
        self.watch = Some((now, cpu));
        UpdateDeadline::Continue(ticks_for(self.window()))
    }
}

fn ticks_for(d: Duration) -> u64 {
    let tick = EPOCH_TICK.as_micros().max(1);
    (d.as_micros().div_ceil(tick) as u64).max(1)
}

/// The epoch deadline callback every plugin store installs.
pub fn on_deadline(mut ctx: StoreContextMut<'_, HostState>) -> wasmtime::Result<UpdateDeadline> {
    Ok(match &mut ctx.data_mut().clock {
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

    fn spin(d: Duration) {
        let start = thread_cpu_time();
        while thread_cpu_time() - start < d {
            std::hint::black_box(0);
        }
    }

    #[test]
    fn a_descheduled_call_keeps_going_and_a_busy_one_is_interrupted() {
        let mut clock = CallClock::start(Duration::from_millis(20));
        // The budget passed while the thread slept (as if descheduled): the
        // call is watched, not interrupted.
        std::thread::sleep(Duration::from_millis(25));
        assert!(matches!(clock.update(), UpdateDeadline::Continue(_)));
        // Still idle through the window: watched again.
        std::thread::sleep(Duration::from_millis(6));
        assert!(matches!(clock.update(), UpdateDeadline::Continue(_)));
        // Busy through the window: interrupted. (On a loaded machine a
        // window of spinning may still be mostly spent descheduled; the
        // busy plugin is interrupted at a later window, never let run.)
        let interrupted = (0..50).any(|_| {
            spin(Duration::from_millis(6));
            matches!(clock.update(), UpdateDeadline::Interrupt)
        });
        assert!(interrupted);
    }

    #[test]
    fn wall_clock_cap_still_applies() {
        let mut clock = CallClock::start(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(1) * (WALL_FACTOR + 5));
        assert!(matches!(clock.update(), UpdateDeadline::Interrupt));
    }
}
