//! A plan's identity across the instances of a distributed run: its hash (what `merge` compares),
//! and the seed the instances agree on when none was given.

use crate::plan::RunPlan;
use sha2::{Digest, Sha256};

/// The plan's hash: the script's text and the resolved plan (options with the command line's
/// overrides), the seed if one was given. Not in it: what may differ between the instances of one
/// run (`--instance`, `--start-at`, `--out`, `--workers`, `-e` values, which reach the plan only
/// through what they change in the options).
pub fn plan_hash(script_sha256: &str, plan: &RunPlan) -> String {
    let mut h = Sha256::new();
    h.update(script_sha256.as_bytes());
    let resolved = format!(
        "\n{:?}\n{:?}\n{:?}\n{:?} {:?}\n{:?}\nseed {:?}",
        plan.scenarios,
        plan.thresholds,
        plan.tags,
        plan.setup_timeout,
        plan.teardown_timeout,
        plan.vu_limits,
        plan.seed_given.then_some(plan.seed),
    );
    h.update(resolved.as_bytes());
    format!("{:x}", h.finalize())
}

/// The seed of a distributed run given no `--seed`: from the plan hash and the start time, which
/// every instance of one run shares and another run does not.
pub fn distributed_seed(plan_hash: &str, start_at: std::time::SystemTime) -> u64 {
    let ns = start_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = Sha256::digest(format!("{plan_hash} {ns}").as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("a sha256 has 8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::plan_hash;
    use crate::plan::{build, Instance, Overrides};
    use serde_json::json;

    /// What the instances of one run may differ in stays out of the hash; what changes the plan
    /// goes in.
    #[test]
    fn the_plan_hash_follows_the_plan_not_the_instance() {
        let options = json!({"vus": 4, "duration": "10s"});
        let hash = |o: Overrides| plan_hash("abc", &build(&options, &o).unwrap());
        let base = hash(Overrides::default());
        let part = Overrides {
            instance: Instance { index: 1, count: 2 },
            workers: Some(7),
            ..Default::default()
        };
        assert_eq!(hash(part), base);
        let tagged = Overrides {
            tags: [("x".to_string(), "y".to_string())].into(),
            ..Default::default()
        };
        assert_ne!(hash(tagged), base);
        let more = Overrides {
            vus: Some(8),
            ..Default::default()
        };
        assert_ne!(hash(more), base);
        let seeded = Overrides {
            seed: Some(1),
            ..Default::default()
        };
        assert_ne!(hash(seeded), base);
        let p = build(&options, &Overrides::default()).unwrap();
        assert_ne!(plan_hash("abd", &p), base, "another script");
    }
}
