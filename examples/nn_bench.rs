//! One training step of the lesson-3 MLP and CNN, timed like `shared/bench/torch_step.py`.
//! Run: `cargo run --release --example nn_bench [mlp|cnn] [steps]`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // mimalloc hands freed pages back to the OS after 10 ms by default, so every step faults
    // its megabytes of activations back in (about a fifth of the CPU time). Keep them instead.
    // mimalloc reads the option on first use, after main starts; nothing else runs yet.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        std::env::set_var("MIMALLOC_PURGE_DELAY", "-1");
    }
    let mut args = std::env::args().skip(1);
    let which = args.next();
    let steps = args.next().map(|s| s.parse()).transpose()?.unwrap_or(50);
    let nets = match which.as_deref() {
        Some(w) => vec![w.to_string()],
        None => vec!["mlp".to_string(), "cnn".to_string()],
    };
    for w in nets {
        println!("{}", tutor::nn::bench_step(&w, steps)?);
    }
    Ok(())
}
