//! Thread priorities. Every acknowledged change waits for one thread: the store's writer. On a
//! saturated two-core machine it waited for a core ≈ 30 % of its time (its run-queue delay in
//! `/proc/<pid>/task/<tid>/schedstat`, measured during `jingzhi bench --only intake`), preempted
//! by the threads that parse requests and decide on them. Those threads can run a few nice steps
//! below the writer, so the writer runs whenever it has a batch; the requests then queue where
//! they cost nothing (in the sockets) instead of holding the commit back — which pays where the
//! writer is the bottleneck (the simulator), not where the requests are (HTTP intake). The writer's own
//! helpers that nothing waits for — the checkpointer and the thread that frees written changes —
//! run [`BACKGROUND_NICE`] steps below it.
//!
//! The writer keeps the nice value of the thread that opened the store (the main thread); the
//! binary lowers its async runtime's threads with `JINGZHI_WORKER_NICE` steps (default
//! [`DEFAULT_WORKER_NICE`], none, since the writer gathers its WAL writes; the simulator
//! [`SIMULATION_WORKER_NICE`]; 0 leaves them as started). Raising a thread's nice value needs no
//! privilege; Linux only (elsewhere nothing changes).

/// Nice steps the writer's checkpointer and freeing thread take below the writer.
pub const BACKGROUND_NICE: i32 = 3;

/// Nice steps the runtime's threads take below the writer unless `JINGZHI_WORKER_NICE` says:
/// none. Since the writer gathers its WAL writes (see `wal_vfs`) it costs ≈ 60 µs of CPU per
/// intake report instead of ≈ 75, and the HTTP intake does better when the writer waits its turn
/// and commits larger batches: nice 0 against 10, alternating runs of `jingzhi bench --only
/// intake`, 10,757, 10,844, 11,435, 10,538, 9,297, 9,907 against 8,742, 10,067, 10,621, 9,840,
/// 9,485, 9,756 reports/s (15 against 19 KB of WAL per report).
pub const DEFAULT_WORKER_NICE: i32 = 0;

/// The simulator's default instead: its tasks run in the process, every step a write, and the
/// writer is what it waits for (simulated hour 12 in 114 s at nice 10, 123 s at nice 0).
pub const SIMULATION_WORKER_NICE: i32 = 10;

/// The nice steps from `JINGZHI_WORKER_NICE` (0 to 19; an unreadable value is refused first by
/// [`crate::environment_errors`]), else the command's `default`.
pub fn worker_nice(default: i32) -> i32 {
    crate::WORKER_NICE.value_or(default.clamp(0, 19) as u64) as i32
}

/// Lowers the calling thread's priority by `steps` nice steps (a runtime's `on_thread_start`).
pub fn lower_this_thread(steps: i32) {
    if steps == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
        if let Err(error) = rustix::process::setpriority_process(Some(thread), now + steps) {
            tracing::debug!(%error, "cannot lower a runtime thread's priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[test]
    fn a_lowered_thread_is_nicer_and_its_spawner_is_not() {
        let spawner = nice_of_this_thread();
        let (lowered, child_of_lowered) = std::thread::spawn(|| {
            lower_this_thread(3);
            let lowered = nice_of_this_thread();
            // Threads it starts inherit its nice value (the writer must not be started there).
            let child = std::thread::spawn(nice_of_this_thread).join().unwrap();
            (lowered, child)
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (spawner + 3).min(19));
        assert_eq!(child_of_lowered, lowered);
        assert_eq!(
            nice_of_this_thread(),
            spawner,
            "only the calling thread changes"
        );
        // Zero steps leave a thread as it is.
        let untouched = std::thread::spawn(|| {
            lower_this_thread(0);
            nice_of_this_thread()
        })
        .join()
        .unwrap();
        assert_eq!(untouched, spawner);
    }
}
