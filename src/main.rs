// mimalloc instead of glibc's malloc: the hot path allocates and frees many small, short-lived blocks
// (request and response parts, Lua strings and tables): glibc held 26.9 % of the profile's samples of
// an HTTP run (7.5 % with this and two later changes), and CPU per 100k requests fell from 5.19-5.54 s
// to 4.08-4.25 s with this change alone
// (results/benchmarks/engine_cost_20261130).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    loadgen::cli::main()
}

/// Transparent huge pages off for this process. mimalloc asks for them on its arenas
/// (`madvise(MADV_HUGEPAGE)`), and the kernel's khugepaged then fills whole 2 MiB ranges of the
/// arena around the few pages in use: loadgen's RSS rose in steps while the run was steady and
/// nothing it held grew (Phoenix upserts at 50/s for 20 minutes: 63.5 -> 82.5 MiB in minute 3 with
/// AnonHugePages 12 -> 60 MiB; with THP off the same run stayed at 44-46 MiB; docs/benchmarks.md
/// section 14). The same as mimalloc's `MIMALLOC_ALLOW_THP=0`, without relying on the environment.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches no memory of ours; a
    // kernel without it answers EINVAL, which changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
