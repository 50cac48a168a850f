//! Issue 13: docker/k8s/, which no cluster here runs. The schemas are checked by scripts/k8s-check
//! (kubernetes-validate); this checks what a schema cannot: that the Indexed Job's N is one number in
//! its three places, that each pod runs its own instance with the common start time, that the run and
//! the merge share the results volume, and that the ConfigMap's script is a valid plan for N instances.

mod common;

use common::{bin, code, stderr, stdout};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

fn manifest(name: &str) -> Yaml {
    let path = format!("{}/docker/k8s/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).unwrap();
    assert_eq!(docs.len(), 1, "{name}: one object");
    docs.remove(0)
}

fn env<'a>(container: &'a Yaml, name: &str) -> &'a str {
    container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("env {name}"))
}

fn claim(pod: &Yaml) -> &str {
    pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some("results"))
        .and_then(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .expect("a results volume on a claim")
}

#[test]
fn the_indexed_job_runs_n_instances_of_one_plan_and_the_merge_reads_them() {
    let run = manifest("run.yaml");
    let spec = &run["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_i64().unwrap();
    assert_eq!(
        spec["parallelism"].as_i64(),
        Some(n),
        "all instances at once"
    );
    assert_eq!(
        spec["backoffLimitPerIndex"].as_i64(),
        Some(0),
        "no instance run twice"
    );
    assert_eq!(
        spec["maxFailedIndexes"].as_i64(),
        Some(n),
        "an instance that fails does not stop the others mid-load"
    );
    assert!(
        spec["backoffLimit"].is_badvalue(),
        "a Job-wide backoffLimit would end every pod when one fails"
    );
    let pod = &spec["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(env(c, "INSTANCES"), n.to_string());
    let args = c["args"][0].as_str().unwrap();
    for part in [
        "JOB_COMPLETION_INDEX + 1",
        "--instance \"$i/$INSTANCES\"",
        "--start-at \"$START_AT\"",
        "/scripts/script.lua",
    ] {
        assert!(args.contains(part), "run.yaml args lack {part}: {args}");
    }
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let storage = manifest("storage.yaml");
    assert_eq!(
        storage["spec"]["accessModes"][0].as_str(),
        Some("ReadWriteMany")
    );
    let pvc = storage["metadata"]["name"].as_str().unwrap();
    assert_eq!(claim(pod), pvc);
    let merge = manifest("merge.yaml");
    let mpod = &merge["spec"]["template"]["spec"];
    assert_eq!(claim(mpod), pvc);
    let margs = mpod["containers"][0]["args"][0].as_str().unwrap();
    assert!(margs.contains("loadgen merge") && margs.contains("loadgen report"));
    // The run's and the merge's result folder is the same expression of START_AT.
    let folder = "dir=\"/results/$(echo \"$START_AT\" | tr -d ':-')\"";
    assert!(args.contains(folder) && margs.contains(folder));

    // The script the ConfigMap holds is valid, and splits into n instances.
    let script = manifest("script.yaml");
    let source = script["data"]["script.lua"].as_str().unwrap();
    let name = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find_map(|v| v["configMap"]["name"].as_str())
        .unwrap();
    assert_eq!(script["metadata"]["name"].as_str(), Some(name));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.lua");
    std::fs::write(&path, source).unwrap();
    let o = Command::new(bin())
        .arg("check")
        .arg(&path)
        .arg("--instance")
        .arg(format!("{n}/{n}"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("instance {n}/{n} of a distributed run")),
        "{}",
        stdout(&o)
    );
}
