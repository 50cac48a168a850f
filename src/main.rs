// mimalloc instead of glibc's malloc: the hot path allocates and frees many small, short-lived blocks
// (request and response parts, Lua strings and tables): glibc held 26.9 % of the profile's samples of
// an HTTP run (7.5 % with this and two later changes), and CPU per 100k requests fell from 5.19-5.54 s
// to 4.08-4.25 s with this change alone
// (results/benchmarks/engine_cost_20261130).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    loadgen::cli::main()
}
