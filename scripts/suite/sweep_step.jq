# One sweep step's verdict, from its result file (scripts/suite/sweep.lua), for evaluate.sh (whether to
# double the rate) and summarize.sh (the table). src/results/evaluation.rs (the page) applies the same
# rule without the p99 stop (its bound is below the stop):
# saturated when over 2 % of the queries due were left unstarted, fewer than 90 % of them started, fewer
# than 80 % of the rate completed a second over the step and its drain, a query failed, the run did not
# complete, or p99 passed $stop ms.
def sweep_step($stop):
  (.scenarios[0] // {}) as $s
  | (($s.iterations // 0) + ($s.unstarted_iterations // 0) + ($s.dropped_iterations // 0)) as $due
  | (.tags.rate | tonumber) as $rate
  | (if .duration_s > 0 then ($s.iterations // 0) / .duration_s else 0 end) as $achieved
  | .metrics.sweep_latency_ms.values.p99 as $p99
  | { rate: $rate, p99: $p99,
      why: (if .status != "completed" then "failed (\(.status))"
            elif ($s.unstarted_iterations // 0) > 0.02 * $due or ($s.iterations // 0) < 0.9 * $due
              then "saturated (\($s.iterations // 0) of \($due) started)"
            elif $achieved < 0.8 * $rate then "saturated (\($achieved * 100 | round / 100)/s completed)"
            elif (.metrics.checks.rate // 0) < 1 then "saturated (failed queries)"
            elif ($p99 // 1e12) > $stop then "saturated (p99 \($p99) ms)"
            else null end) }
  | .saturated = (.why != null);
