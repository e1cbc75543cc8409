//! How the process gives memory back. Measured on the recommender (docs/recommendations.md,
//! "Cost"): glibc keeps the pages of freed blocks in its arenas, one per allocating thread up
//! to eight per core. Each refit builds its model on fresh threads, and the working matrices
//! of successive refits were left behind: 1,682 courses and 100k events settled at 244 MiB
//! after ten refits (420 MB on a busy server) although the live model is a few MiB. Handing
//! free pages back once a snapshot is dropped keeps the settled size near what is live.
//! Elsewhere (other allocators, other systems) the call does nothing.

/// Hands pages the allocator holds free back to the system, after a large structure (an old
/// snapshot, a refit's working matrices) was dropped. Takes milliseconds at most; call it off
/// the request path.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free pages to the system; the padding 0 keeps none.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
