//! One training step of the lesson-3 MLP and CNN, timed like `shared/bench/torch_step.py`.
//! Run: `cargo run --release --example nn_bench [mlp|cnn] [steps]`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
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
