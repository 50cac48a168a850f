//! How a scenario's VUs and iterations are divided: first among the instances of a distributed run
//! (`--instance I/N`, the same rule k6's execution segments follow), then among the worker threads
//! of one instance.
//!
//! Both levels deal items round-robin: instance i (0-based) of N holds the items j with
//! `j % N == i`; its k-th such item (`j = k·N + i`) goes to worker `k % W` of its W threads. The
//! union over instances is exactly the one-machine plan, with no overlap, *whatever each instance's
//! W*: an instance's share depends on N and its own threads only, so machines with different core
//! counts can take part in one run. A worker's n-th item is `(n·W + w)·N + i`, the scenario-wide
//! index, so VU ids (and the random stream `loadgen.gen` derives from them) are the ones a single
//! process would give the same VU.

/// How many of the items `0..total` fall to part `k` of `parts` when item j goes to part `j % parts`.
pub fn share(total: u64, k: u64, parts: u64) -> u64 {
    if total > k {
        (total - k).div_ceil(parts)
    } else {
        0
    }
}

/// Where one worker thread stands in the run: its instance among the instances, itself among the
/// instance's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// 0-based.
    pub instance: u64,
    pub instances: u64,
    /// 0-based, among this instance's threads.
    pub worker: u64,
    pub workers: u64,
}

impl Split {
    /// A worker of a run on one machine.
    #[cfg(test)]
    pub fn local(worker: usize, workers: usize) -> Split {
        Split {
            instance: 0,
            instances: 1,
            worker: worker as u64,
            workers: workers as u64,
        }
    }

    /// How many of `total` items (iterations of shared-iterations) fall to this instance.
    pub fn instance_share(&self, total: u64) -> u64 {
        share(total, self.instance, self.instances)
    }

    /// How many of `total` VUs this worker holds.
    pub fn vus(&self, total: u64) -> u64 {
        share(self.instance_share(total), self.worker, self.workers)
    }

    /// The scenario-wide index of this worker's n-th VU.
    pub fn vu_index(&self, n: u64) -> u64 {
        (n * self.workers + self.worker) * self.instances + self.instance
    }

    /// This worker's lane of an open-model schedule with at most `max_vus` VUs, or None when it has
    /// no part in it. Fewer VUs than threads in this instance: only the first of its threads take
    /// part (one VU each), and its iterations are split among them alone, so no iteration falls to
    /// a thread without a VU.
    pub fn lane(&self, max_vus: u64) -> Option<Lane> {
        let mine = self.instance_share(max_vus);
        let workers = self.workers.min(mine);
        if self.worker >= workers {
            return None;
        }
        Some(Lane {
            first: self.worker * self.instances + self.instance,
            stride: workers * self.instances,
            max_vus: share(mine, self.worker, workers),
            workers,
            split: *self,
        })
    }
}

/// One worker's part of an open-model schedule: the global iterations `first + n·stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    pub first: u64,
    pub stride: u64,
    /// The most VUs this worker may hold.
    pub max_vus: u64,
    /// Threads of this instance taking part.
    workers: u64,
    split: Split,
}

impl Lane {
    /// How many of the global iterations `0..n` are this lane's.
    pub fn mine(&self, n: u64) -> u64 {
        share(n, self.first, self.stride)
    }

    /// The scenario-wide index of the a-th VU this lane allocates. The same as
    /// [`Split::vu_index`] for the VUs made before the start: with fewer VUs than threads, each
    /// taking thread made at most one (n = 0), and otherwise all threads take part.
    pub fn vu_index(&self, a: u64) -> u64 {
        (a * self.workers + self.split.worker) * self.split.instances + self.split.instance
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Every worker of every instance, each instance with its own thread count.
    fn splits(threads: &[u64]) -> Vec<Split> {
        let n = threads.len() as u64;
        threads
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| {
                (0..w).map(move |k| Split {
                    instance: i as u64,
                    instances: n,
                    worker: k,
                    workers: w,
                })
            })
            .collect()
    }

    #[test]
    fn one_machine_is_the_old_round_robin() {
        let s = Split::local(1, 2);
        assert_eq!((s.vus(5), s.vu_index(0), s.vu_index(1)), (2, 1, 3));
        let l = s.lane(5).unwrap();
        assert_eq!((l.first, l.stride, l.max_vus), (1, 2, 2));
        // One VU on two threads: the second has no lane.
        assert_eq!(Split::local(1, 2).lane(1), None);
    }

    #[test]
    fn instance_two_of_two_takes_the_odd_items() {
        let s = Split {
            instance: 1,
            instances: 2,
            worker: 0,
            workers: 1,
        };
        assert_eq!(s.vus(5), 2);
        assert_eq!((s.vu_index(0), s.vu_index(1)), (1, 3));
        assert_eq!(s.instance_share(7), 3);
    }

    proptest! {
        /// For any plan and any instance count and thread counts, the VUs made before the start, the
        /// VUs an open model may add and its iterations, taken over every worker of every instance,
        /// are exactly the one-machine sets, each item once.
        #[test]
        fn the_union_over_instances_is_the_one_machine_plan(
            threads in proptest::collection::vec(1u64..5, 1..6),
            total in 0u64..200,
            extra in 0u64..50,
            iterations in 0u64..500,
        ) {
            let n = threads.len() as u64;
            let all = splits(&threads);
            // VUs before the start (closed models, pre-allocated VUs).
            let mut seen = BTreeSet::new();
            for s in &all {
                for k in 0..s.vus(total) {
                    prop_assert!(seen.insert(s.vu_index(k)), "VU {} twice", s.vu_index(k));
                }
            }
            prop_assert_eq!(seen, (0..total).collect::<BTreeSet<_>>());
            // shared-iterations: the instances' counts add up.
            let per_instance: u64 = (0..n)
                .map(|i| Split { instance: i, instances: n, worker: 0, workers: 1 }.instance_share(iterations))
                .sum();
            prop_assert_eq!(per_instance, iterations);
            // Open model with max_vus = total + extra (at least N, as the plan requires).
            let max_vus = (total + extra).max(n);
            let pre = total.min(max_vus);
            let (mut its, mut vus) = (BTreeSet::new(), BTreeSet::new());
            for s in &all {
                let Some(l) = s.lane(max_vus) else {
                    prop_assert_eq!(s.vus(pre), 0, "VUs made on a thread without a lane");
                    continue;
                };
                let made = s.vus(pre);
                prop_assert!(made <= l.max_vus);
                for a in 0..l.max_vus {
                    if a < made {
                        prop_assert_eq!(l.vu_index(a), s.vu_index(a));
                    }
                    prop_assert!(vus.insert(l.vu_index(a)), "VU {} twice", l.vu_index(a));
                }
                let mut k = l.first;
                while k < iterations {
                    prop_assert!(its.insert(k), "iteration {} twice", k);
                    k += l.stride;
                }
                prop_assert_eq!(l.mine(iterations), (l.first..iterations).step_by(l.stride as usize).count() as u64);
            }
            prop_assert_eq!(vus, (0..max_vus).collect::<BTreeSet<_>>());
            prop_assert_eq!(its, (0..iterations).collect::<BTreeSet<_>>());
        }
    }
}
