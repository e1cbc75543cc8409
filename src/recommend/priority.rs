//! Refits run at the lowest CPU priority. A refit may then use every core the machine has
//! idle (a 100k-course rebuild takes half as long on two cores as on one), while the
//! scheduler still hands a core to request handling the moment it needs one: with nice 19
//! against 0, a busy worker gets about 98% of a contested core.

/// Lowers the calling thread's scheduling priority to the lowest (nice 19). Best effort: where
/// that is not possible the refit still runs, only at normal priority.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority have no memory-safety preconditions; on Linux
        // PRIO_PROCESS with a thread id changes that thread only.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19)
        };
        if rc != 0 {
            tracing::warn!("could not lower the refit thread's priority");
        }
    }
}
