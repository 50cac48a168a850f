// mimalloc instead of glibc's malloc: the hot path allocates and frees many small, short-lived blocks
// (request and response parts, Lua strings and tables), and glibc's free lists and consolidation
// were a fifth of the engine's CPU per HTTP request (results/benchmarks/engine_cost_20261130).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    loadgen::cli::main()
}
