//! The allocator hands freed memory back (`lyceum::memory`). A test binary of its own: it reads
//! the process's resident size, which other tests running beside it would disturb.

#[test]
fn freed_memory_goes_back_to_the_system() {
    let rss = || -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let Some(before) = rss() else {
        return; // no /proc: nothing to measure on this system
    };
    // Many small blocks, as a model's vectors are: below the mmap threshold, so freeing them
    // leaves the pages in the heap unless they are handed back.
    let blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![(i % 251) as u8; 512]).collect();
    // One block allocated after them and kept: it sits above them in the heap, so free()
    // cannot simply shorten the heap, as it would if they were the last thing in it. Kept
    // opaque, or the optimiser drops the allocation and the test proves nothing (checked:
    // without the call below this test fails, 105 of 110 MB still resident).
    let pinned = std::hint::black_box(vec![1u8; 512]);
    let held = rss().unwrap_or(0);
    assert!(
        held > before + 80_000,
        "the blocks are resident: {before} → {held} KiB"
    );
    drop(blocks);
    lyceum::memory::release_freed();
    let after = rss().unwrap_or(u64::MAX);
    assert_eq!(pinned[0], 1);
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert!(
            after + 80_000 < held,
            "about 100 MB freed and handed back, yet RSS went from {held} to {after} KiB"
        );
    }
}
