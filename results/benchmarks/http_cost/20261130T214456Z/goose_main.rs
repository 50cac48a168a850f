//! Goose peer for scripts/bench/http_cost.sh: every user loops GET /1k. Users, rate
//! (--throttle-requests), host and run time come from Goose's own command line.
use goose::prelude::*;

async fn get_page(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/1k").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("get").register_transaction(transaction!(get_page)))
        .execute()
        .await?;
    Ok(())
}
