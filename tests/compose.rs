//! Checks docker/compose.yaml and docker/*/Dockerfile, which no Docker engine here can build or run,
//! against the local stack's own definitions: the SERVERS, PROCS, CMD, PORTS and TIMEOUT tables of
//! scripts/stack, docker/ports.env, and the run scripts and templates under docker/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// Where the images put docker/ (the run scripts' working folder) and the state folder.
const IMAGE_DOCKER_DIR: &str = "/opt/loadgen/docker";
const IMAGE_STATE: &str = "/var/lib/loadgen/stack";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docker() -> PathBuf {
    root().join("docker")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tables of scripts/stack, and the ports of docker/ports.env.
struct Local {
    servers: Vec<String>,
    procs: BTreeMap<String, Vec<String>>,
    cmd: BTreeMap<String, String>,
    ports: BTreeMap<String, Vec<u16>>,
    timeout: BTreeMap<String, String>,
    env: BTreeMap<String, u16>,
}

impl Local {
    fn load() -> Local {
        let env: BTreeMap<String, u16> = read(&docker().join("ports.env"))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l.split_once('=').expect("KEY=value");
                (
                    k.to_string(),
                    v.parse().unwrap_or_else(|_| panic!("port {l}")),
                )
            })
            .collect();
        let script = read(&root().join("scripts/stack"));
        let servers = bash_array(&script, "SERVERS=(");
        let procs = bash_assoc(&script, "PROCS")
            .into_iter()
            .map(|(k, v)| (k, v.split_whitespace().map(String::from).collect()))
            .collect();
        let ports = bash_assoc(&script, "PORTS")
            .into_iter()
            .map(|(k, v)| {
                let nums = v
                    .split_whitespace()
                    .map(|var| env[var.trim_start_matches('$')])
                    .collect();
                (k, nums)
            })
            .collect();
        Local {
            servers,
            procs,
            cmd: bash_assoc(&script, "CMD"),
            ports,
            timeout: bash_assoc(&script, "TIMEOUT"),
            env,
        }
    }

    /// Every process in start order, with its server.
    fn ordered_procs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in &self.servers {
            for p in &self.procs[s] {
                out.push((s.clone(), p.clone()));
            }
        }
        out
    }
}

/// The text between `start` and the closing parenthesis (outside quotes).
fn paren_body<'a>(script: &'a str, start: &str) -> &'a str {
    let at = script
        .find(start)
        .unwrap_or_else(|| panic!("scripts/stack has no {start}"))
        + start.len();
    let mut quoted = false;
    for (i, c) in script[at..].char_indices() {
        match c {
            '"' => quoted = !quoted,
            ')' if !quoted => return &script[at..at + i],
            _ => {}
        }
    }
    panic!("{start}: no closing parenthesis");
}

fn bash_array(script: &str, start: &str) -> Vec<String> {
    paren_body(script, start)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// `declare -A NAME=([key]="value" [key]=value ...)`
fn bash_assoc(script: &str, name: &str) -> BTreeMap<String, String> {
    let body = paren_body(script, &format!("declare -A {name}=("));
    let mut out = BTreeMap::new();
    let mut rest = body;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find("]=").expect("[key]=") + open;
        let key = rest[open + 1..close].to_string();
        let after = &rest[close + 2..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').expect("closing quote");
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.insert(key, value);
        rest = next;
    }
    assert!(!out.is_empty(), "declare -A {name} is empty");
    out
}

/// Resolves YAML merge keys (`<<: *anchor`), which compose supports and plain YAML 1.2 does not.
fn merge_keys(y: Yaml) -> Yaml {
    match y {
        Yaml::Hash(h) => {
            let mut out = yaml_rust2::yaml::Hash::new();
            let merge = Yaml::String("<<".into());
            if let Some(base) = h.get(&merge) {
                let bases = match base.clone() {
                    Yaml::Array(a) => a,
                    one => vec![one],
                };
                for b in bases {
                    if let Yaml::Hash(bh) = merge_keys(b) {
                        out.extend(bh);
                    }
                }
            }
            for (k, v) in h {
                if k != merge {
                    out.insert(k, merge_keys(v));
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(a) => Yaml::Array(a.into_iter().map(merge_keys).collect()),
        other => other,
    }
}

struct Compose {
    services: BTreeMap<String, Yaml>,
}

impl Compose {
    fn load() -> Compose {
        let text = read(&docker().join("compose.yaml"));
        let doc = YamlLoader::load_from_str(&text).expect("docker/compose.yaml is valid YAML");
        let doc = merge_keys(doc.into_iter().next().expect("one document"));
        let services = doc["services"]
            .as_hash()
            .expect("services:")
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
            .collect();
        Compose { services }
    }

    fn service(&self, name: &str) -> &Yaml {
        self.services
            .get(name)
            .unwrap_or_else(|| panic!("compose.yaml has no service {name}"))
    }

    fn in_ha(&self, name: &str) -> bool {
        profiles(self.service(name)).contains(&"ha".to_string())
    }
}

fn profiles(s: &Yaml) -> Vec<String> {
    strings(&s["profiles"])
}

/// A list of strings, or a string split at spaces (compose's short form).
fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(a) => a.iter().map(scalar).collect(),
        Yaml::String(s) => s.split_whitespace().map(String::from).collect(),
        Yaml::BadValue | Yaml::Null => vec![],
        other => panic!("expected a list: {other:?}"),
    }
}

fn scalar(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("expected a scalar: {other:?}"),
    }
}

/// `environment:` as a map (compose allows a map or a list of KEY=value).
fn environment(s: &Yaml) -> BTreeMap<String, String> {
    match &s["environment"] {
        Yaml::Hash(h) => h.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Yaml::Array(a) => a
            .iter()
            .map(|e| {
                let e = scalar(e);
                let (k, v) = e.split_once('=').unwrap_or((&e, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// `depends_on:` as service -> condition.
fn depends_on(s: &Yaml) -> BTreeMap<String, String> {
    match &s["depends_on"] {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| {
                (
                    scalar(k),
                    v["condition"]
                        .as_str()
                        .unwrap_or("service_started")
                        .to_string(),
                )
            })
            .collect(),
        Yaml::Array(a) => a
            .iter()
            .map(|k| (scalar(k), "service_started".to_string()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The service whose network namespace (and so published ports) a service uses.
fn netns_owner<'a>(name: &'a str, s: &'a Yaml) -> &'a str {
    s["network_mode"]
        .as_str()
        .and_then(|m| m.strip_prefix("service:"))
        .unwrap_or(name)
}

/// The run script a command names ("kafka/run 2" -> docker/kafka/run), checked to exist and be executable.
fn run_script(command: &[String], service: &str) -> PathBuf {
    let first = command
        .first()
        .unwrap_or_else(|| panic!("{service}: no command"));
    let (server, file) = first
        .split_once('/')
        .unwrap_or_else(|| panic!("{service}: {first} is not SERVER/run"));
    assert_eq!(
        file, "run",
        "{service}: command must be a docker/<server>/run script, not {first}"
    );
    let path = docker().join(server).join("run");
    let meta =
        std::fs::metadata(&path).unwrap_or_else(|e| panic!("{service}: {}: {e}", path.display()));
    use std::os::unix::fs::PermissionsExt;
    assert!(
        meta.permissions().mode() & 0o111 != 0,
        "{} is not executable",
        path.display()
    );
    path
}

#[test]
fn every_local_process_is_a_service_running_the_same_command() {
    let local = Local::load();
    let compose = Compose::load();
    let mut expected = BTreeSet::new();
    for (server, proc) in local.ordered_procs() {
        expected.insert(proc.clone());
        let s = compose.service(&proc);
        assert!(
            profiles(s).is_empty(),
            "{proc} must be in the default profile"
        );
        let command = strings(&s["command"]);
        assert_eq!(
            command.join(" "),
            local.cmd[&proc],
            "{proc}: command differs from scripts/stack's CMD"
        );
        assert!(
            command[0].starts_with(&format!("{server}/")),
            "{proc}: not a script of {server}"
        );
        run_script(&command, &proc);
        let dockerfile = s["build"]["dockerfile"]
            .as_str()
            .unwrap_or_else(|| panic!("{proc}: no build.dockerfile"));
        assert_eq!(
            dockerfile,
            format!("{server}/Dockerfile"),
            "{proc}: built from the wrong Dockerfile"
        );
    }
    // Nothing else in the default profile but the holder of the network namespace.
    for (name, s) in &compose.services {
        if profiles(s).is_empty() && !expected.contains(name) {
            assert!(
                s["build"].is_badvalue(),
                "{name}: a built default service that scripts/stack does not run"
            );
            let owners = compose
                .services
                .values()
                .filter(|o| o["network_mode"].as_str() == Some(&format!("service:{name}")));
            assert!(
                owners.count() > 0,
                "{name}: an extra default service that is not a network holder"
            );
        }
    }
}

#[test]
fn published_ports_are_those_of_ports_env_on_127_0_0_1() {
    let local = Local::load();
    let compose = Compose::load();
    let known: BTreeSet<u16> = local.env.values().copied().collect();
    let mut published: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut all = Vec::new();
    for (name, s) in &compose.services {
        for p in strings(&s["ports"]) {
            let parts: Vec<&str> = p.split(':').collect();
            assert_eq!(
                parts.len(),
                3,
                "{name}: port {p} must be 127.0.0.1:HOST:CONTAINER"
            );
            assert_eq!(
                parts[0], "127.0.0.1",
                "{name}: port {p} is not bound to 127.0.0.1"
            );
            let host: u16 = parts[1]
                .parse()
                .unwrap_or_else(|_| panic!("{name}: port {p}"));
            let container: u16 = parts[2]
                .parse()
                .unwrap_or_else(|_| panic!("{name}: port {p}"));
            assert_eq!(
                host, container,
                "{name}: port {p}: the servers listen on the ports.env numbers"
            );
            assert!(
                known.contains(&host),
                "{name}: port {host} is not in docker/ports.env"
            );
            published.entry(name.clone()).or_default().insert(host);
            all.push(host);
        }
    }
    let unique: BTreeSet<u16> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "a host port is published twice: {all:?}"
    );
    for (_, proc) in local.ordered_procs() {
        let s = compose.service(&proc);
        let owner = netns_owner(&proc, s);
        let have = published.get(owner).cloned().unwrap_or_default();
        for port in &local.ports[&proc] {
            assert!(
                have.contains(port),
                "{proc}: port {port} (scripts/stack PORTS) is not published by {owner}"
            );
        }
    }
    assert_eq!(
        unique, known,
        "published ports differ from docker/ports.env"
    );
}

#[test]
fn default_services_start_in_local_order_with_health_checks() {
    let local = Local::load();
    let compose = Compose::load();
    let order = local.ordered_procs();
    for (i, (server, proc)) in order.iter().enumerate() {
        let s = compose.service(proc);
        let deps = depends_on(s);
        if i > 0 {
            let prev = &order[i - 1].1;
            assert_eq!(
                deps.get(prev).map(String::as_str),
                Some("service_healthy"),
                "{proc} must wait for {prev} to be healthy (local start order)"
            );
        }
        for (dep, cond) in &deps {
            let owner = netns_owner(proc, s);
            if dep != owner {
                assert_eq!(
                    cond, "service_healthy",
                    "{proc}: depends_on {dep} must be service_healthy"
                );
            }
        }
        let test = strings(&s["healthcheck"]["test"]);
        assert!(
            test.len() >= 2 && test[0] == "CMD",
            "{proc}: no health check"
        );
        let start = s["healthcheck"]["start_period"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            start,
            format!("{}s", local.timeout[server]),
            "{proc}: start_period != scripts/stack TIMEOUT"
        );
        // Same network namespace as the others (127.0.0.1 between servers), listening on 0.0.0.0 in it.
        assert_eq!(
            s["network_mode"].as_str(),
            Some("service:net"),
            "{proc}: network_mode"
        );
        assert_eq!(
            environment(s).get("LOADGEN_BIND").map(String::as_str),
            Some("0.0.0.0"),
            "{proc}: LOADGEN_BIND"
        );
        assert!(
            strings(&s["env_file"]).contains(&"ports.env".to_string()),
            "{proc}: env_file ports.env"
        );
    }
    // lib.sh keeps 127.0.0.1 as the default for the local stack.
    assert!(read(&docker().join("lib.sh")).contains(r#": "${LOADGEN_BIND:=127.0.0.1}""#));
    // The three Kafka nodes share one data volume: the cluster id file is made by the first to format.
    let kafka: BTreeSet<Vec<String>> = local.procs["kafka"]
        .iter()
        .map(|p| strings(&compose.service(p)["volumes"]))
        .collect();
    assert_eq!(
        kafka.len(),
        1,
        "kafka nodes must mount the same volume: {kafka:?}"
    );
    let vol = kafka.into_iter().next().unwrap();
    assert!(
        vol.iter()
            .any(|v| v.ends_with(&format!(":{IMAGE_STATE}/data/kafka"))),
        "kafka volume {vol:?}"
    );
}

/// A Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (op, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (op.to_uppercase(), rest.trim().to_string())
        })
        .collect()
}

/// No registry host in an image name: the part before the first '/' is a host if it has '.' or ':'.
fn assert_no_registry_host(image: &str, file: &str) {
    if let Some((first, _)) = image.split_once('/') {
        assert!(
            !first.contains('.') && !first.contains(':') && first != "localhost",
            "{file}: image {image} names a registry host"
        );
    }
}

#[test]
fn dockerfiles_fetch_the_poms_and_run_the_run_scripts() {
    let local = Local::load();
    let compose = Compose::load();
    let mut files = BTreeSet::new();
    for (name, s) in &compose.services {
        if let Some(image) = s["image"].as_str() {
            assert_no_registry_host(image, "compose.yaml");
        }
        if s["build"].is_badvalue() {
            continue;
        }
        assert_eq!(
            s["build"]["context"].as_str(),
            Some("."),
            "{name}: build context must be docker/"
        );
        files.insert(
            s["build"]["dockerfile"]
                .as_str()
                .expect("build.dockerfile")
                .to_string(),
        );
    }
    assert_eq!(
        files.len(),
        local.servers.len(),
        "one Dockerfile per server: {files:?}"
    );
    for server in &local.servers {
        let rel = format!("{server}/Dockerfile");
        assert!(files.contains(&rel), "no service builds docker/{rel}");
        let text = read(&docker().join(&rel));
        let ins = instructions(&text);
        let froms: Vec<&String> = ins
            .iter()
            .filter(|(op, _)| op == "FROM")
            .map(|(_, a)| a)
            .collect();
        assert_eq!(
            froms.len(),
            2,
            "{rel}: a Maven build stage and a runtime stage"
        );
        for f in &froms {
            assert_no_registry_host(f.split_whitespace().next().unwrap(), &rel);
        }
        assert!(
            froms[0].contains("maven") && froms[0].contains("17"),
            "{rel}: build stage {}",
            froms[0]
        );
        assert!(
            froms[1].contains("17-jre"),
            "{rel}: runtime stage must be a Java 17 JRE: {}",
            froms[1]
        );
        // Maven in the build stage only, fetching the pom's runtime dependencies into the cache layout.
        let run = ins
            .iter()
            .filter(|(op, _)| op == "RUN")
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>();
        let fetch = run
            .iter()
            .find(|r| r.contains("mvn"))
            .unwrap_or_else(|| panic!("{rel}: no mvn"));
        for want in [
            format!("{server}/pom.xml"),
            "dependency:copy-dependencies".into(),
            "-DincludeScope=runtime".into(),
            format!("-DoutputDirectory=/cache/{server}/lib"),
        ] {
            assert!(fetch.contains(&want), "{rel}: the mvn step lacks {want}");
        }
        let last_from = ins.iter().rposition(|(op, _)| op == "FROM").unwrap();
        assert!(
            !ins[last_from..]
                .iter()
                .any(|(op, a)| op == "RUN" && a.contains("mvn")),
            "{rel}: mvn in the runtime stage"
        );
        assert!(
            text.contains("LOADGEN_CACHE=/opt/loadgen/cache"),
            "{rel}: LOADGEN_CACHE"
        );
        assert!(
            text.contains(&format!("LOADGEN_STACK={IMAGE_STATE}")),
            "{rel}: LOADGEN_STACK"
        );
        assert!(
            ins.iter().any(|(op, a)| op == "COPY"
                && a == &format!("--from=fetch /cache/{server} /opt/loadgen/cache/{server}")),
            "{rel}: the jars must land in $LOADGEN_CACHE/{server}/lib"
        );
        // Every COPY source exists in the build context (docker/); lib.sh, ports.env and the server folder are among them.
        let mut copied = BTreeSet::new();
        for (_, a) in ins
            .iter()
            .filter(|(op, a)| op == "COPY" && !a.starts_with("--from"))
        {
            let words: Vec<&str> = a
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            for src in &words[..words.len() - 1] {
                assert!(
                    docker().join(src).exists(),
                    "{rel}: COPY source docker/{src} does not exist"
                );
                copied.insert(src.to_string());
            }
        }
        for want in ["lib.sh", "ports.env", server.as_str()] {
            assert!(copied.contains(want), "{rel}: does not copy {want}");
        }
        assert!(
            docker().join(server).join("pom.xml").is_file(),
            "docker/{server}/pom.xml"
        );
        // The run script's own files (configs, templates) exist and are in the image.
        let script = read(&docker().join(server).join("run"));
        for (i, _) in script.match_indices("$HERE/") {
            let rest = &script[i + 6..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || "._-/".contains(c)))
                .unwrap_or(rest.len());
            let file = format!("{server}/{}", &rest[..end]);
            let path = docker().join(&file);
            assert!(
                path.exists(),
                "docker/{server}/run uses docker/{file}, which does not exist"
            );
            let canonical = path.canonicalize().unwrap();
            let inside = copied
                .iter()
                .any(|c| canonical.starts_with(docker().join(c).canonicalize().unwrap()));
            assert!(
                inside,
                "{rel}: docker/{file} (used by the run script) is not copied into the image"
            );
        }
        // The image's default command is the run script of one of this server's processes.
        let cmd = ins
            .iter()
            .rev()
            .find(|(op, _)| op == "CMD")
            .unwrap_or_else(|| panic!("{rel}: no CMD"));
        let args: Vec<String> = cmd
            .1
            .trim_matches(['[', ']'])
            .split(',')
            .map(|a| a.trim().trim_matches('"').to_string())
            .collect();
        let joined = args.join(" ");
        assert!(
            local.procs[server].iter().any(|p| local.cmd[p] == joined),
            "{rel}: CMD {joined} is none of scripts/stack's commands for {server}"
        );
        assert!(
            ins.iter()
                .any(|(op, a)| op == "WORKDIR" && a == IMAGE_DOCKER_DIR),
            "{rel}: WORKDIR {IMAGE_DOCKER_DIR}"
        );
    }
}

#[test]
fn ha_profile_has_the_ha_topology() {
    let compose = Compose::load();
    let ha: Vec<(&String, &Yaml)> = compose
        .services
        .iter()
        .filter(|(n, _)| compose.in_ha(n))
        .collect();
    let mut roles: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for (name, s) in &ha {
        let role = if s["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("zookeeper:"))
        {
            "zookeeper".to_string()
        } else {
            let command = strings(&s["command"]);
            let script = run_script(&command, name);
            let server = command[0].split('/').next().unwrap().to_string();
            if let Some(arg) = command.get(1) {
                if server != "kafka" {
                    assert!(
                        read(&script).contains(&format!("  {arg})")),
                        "{name}: docker/{server}/run has no role {arg}"
                    );
                }
            }
            // Its templates come from docker/ha/<server>, which the image copies.
            let templates = environment(s)
                .get("LOADGEN_TEMPLATES")
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                templates,
                format!("{IMAGE_DOCKER_DIR}/ha/{server}"),
                "{name}: LOADGEN_TEMPLATES"
            );
            assert!(
                docker().join("ha").join(&server).is_dir(),
                "docker/ha/{server}"
            );
            match (server.as_str(), command.get(1).map(String::as_str)) {
                ("kafka", _) => "kafka".to_string(),
                (srv, Some(r)) => format!("{srv} {r}"),
                (srv, None) => srv.to_string(),
            }
        };
        assert_ne!(
            s["network_mode"].as_str(),
            Some("service:net"),
            "{name}: the ha cluster has its own network"
        );
        roles.entry(role).or_default().push(name);
    }
    let count = |r: &str| roles.get(r).map_or(0, Vec::len);
    for (role, n) in [
        ("hdfs namenode", 2),
        ("hdfs journalnode", 3),
        ("hdfs zkfc", 2),
        ("hdfs datanode", 3),
        ("hive hiveserver2", 2),
        ("kafka", 3),
    ] {
        assert_eq!(
            count(role),
            n,
            "ha profile: {n} × {role} expected, found {:?}",
            roles.get(role)
        );
    }
    assert!(count("zookeeper") >= 1, "ha profile: no zookeeper");
    let kafka_ids: BTreeSet<String> = roles["kafka"]
        .iter()
        .map(|n| strings(&compose.service(n)["command"])[1].clone())
        .collect();
    assert_eq!(
        kafka_ids,
        ["1", "2", "3"].map(String::from).into(),
        "ha kafka node ids"
    );

    // Each ZKFC shares the network namespace of a different NameNode (it monitors its local NameNode).
    let namenodes: BTreeSet<&str> = roles["hdfs namenode"].iter().map(|n| n.as_str()).collect();
    let zkfc_of: BTreeSet<&str> = roles["hdfs zkfc"]
        .iter()
        .map(|n| netns_owner(n, compose.service(n)))
        .collect();
    assert_eq!(
        zkfc_of, namenodes,
        "one ZKFC in each NameNode's network namespace"
    );
    let standby = roles["hdfs namenode"]
        .iter()
        .filter(|n| {
            environment(compose.service(n))
                .get("HDFS_BOOTSTRAP_STANDBY")
                .map(String::as_str)
                == Some("1")
        })
        .count();
    assert_eq!(standby, 1, "exactly one NameNode bootstraps from the other");

    // The HA configs name these services.
    let host = |n: &str| {
        compose.service(n)["hostname"]
            .as_str()
            .unwrap_or(n)
            .to_string()
    };
    // As docker/hdfs/run renders them in a container of the profile.
    let conf = render_ha(
        "hdfs",
        &[("LOADGEN_TEMPLATES", "ha"), ("HOSTNAME", "ha-datanode-1")],
        "datanode",
        "1",
    );
    let hdfs_site = read(&conf.join("hdfs-site.xml"));
    let core_site = read(&conf.join("core-site.xml"));
    let hive_conf = render_ha(
        "hive",
        &[
            ("LOADGEN_TEMPLATES", "ha"),
            ("HOSTNAME", "ha-hiveserver2-1"),
        ],
        "hiveserver2",
        "1",
    );
    let hive_site = read(&hive_conf.join("hive-site.xml"));
    let prop = |xml: &str, name: &str| -> String {
        let key = format!("<name>{name}</name><value>");
        let at = xml
            .find(&key)
            .unwrap_or_else(|| panic!("no property {name}"))
            + key.len();
        xml[at..xml[at..].find("</value>").unwrap() + at].to_string()
    };
    assert_eq!(
        prop(&hdfs_site, "dfs.ha.automatic-failover.enabled"),
        "true"
    );
    let edits = prop(&hdfs_site, "dfs.namenode.shared.edits.dir");
    for jn in &roles["hdfs journalnode"] {
        assert!(
            edits.contains(&format!("{}:", host(jn))),
            "shared edits {edits} lacks {jn}"
        );
    }
    for nn in &roles["hdfs namenode"] {
        assert!(
            hdfs_site.contains(&format!("<value>{}:", host(nn))),
            "hdfs-site lacks NameNode {nn}"
        );
    }
    let zk = host(roles["zookeeper"][0]);
    assert!(
        prop(&core_site, "ha.zookeeper.quorum").starts_with(&format!("{zk}:")),
        "ha.zookeeper.quorum"
    );
    assert_eq!(
        prop(&hive_site, "hive.server2.support.dynamic.service.discovery"),
        "true"
    );
    assert!(
        prop(&hive_site, "hive.zookeeper.quorum").starts_with(&format!("{zk}:")),
        "hive.zookeeper.quorum"
    );
    let kafka = read(&docker().join("ha/kafka/server.properties.in"));
    for n in &roles["kafka"] {
        let id = &strings(&compose.service(n)["command"])[1];
        assert!(
            kafka.contains(&format!("{id}@{}:", host(n))),
            "ha kafka voters lack {id}@{}",
            host(n)
        );
    }
}

/// Renders docker/<server>/run's configuration for one process (LOADGEN_RENDER_ONLY: nothing starts)
/// into a state folder of its own and returns the configuration folder. `("LOADGEN_TEMPLATES", "ha")`
/// stands for docker/ha/<server>, as compose's ha profile sets it.
fn render_ha(server: &str, env: &[(&str, &str)], role: &str, idx: &str) -> PathBuf {
    let state = std::env::temp_dir().join(format!(
        "loadgen-compose-render-{}-{server}-{role}-{idx}-{}",
        std::process::id(),
        env.len()
    ));
    let mut c = std::process::Command::new(docker().join(server).join("run"));
    c.args([role, idx])
        .env("LOADGEN_STACK", &state)
        .env("LOADGEN_RENDER_ONLY", "1")
        .env_remove("LOADGEN_HA")
        .env_remove("LOADGEN_TEMPLATES");
    for (k, v) in env {
        if *k == "LOADGEN_TEMPLATES" && *v == "ha" {
            c.env(k, docker().join("ha").join(server));
        } else {
            c.env(k, v);
        }
    }
    let o = c.output().expect("docker/hdfs/run");
    assert!(
        o.status.success(),
        "docker/{server}/run {role} {idx}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
}

/// Every `<name>` of a Hadoop configuration file with its value.
fn properties(xml: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in xml.split("<property>").skip(1) {
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let at = part.find(&open).unwrap() + open.len();
            part[at..at + part[at..].find(&format!("</{tag}>")).unwrap()].to_string()
        };
        out.insert(field("name"), field("value"));
    }
    out
}

/// Properties of `compose` and `local` (two renderings of one template) must be the same, with the
/// same values but for addresses: values with a host or port, bind hosts, ports, folders and paths.
fn same_but_addresses(file: &str, c: &BTreeMap<String, String>, l: &BTreeMap<String, String>) {
    assert_eq!(
        c.keys().collect::<Vec<_>>(),
        l.keys().collect::<Vec<_>>(),
        "{file}: the same properties"
    );
    for (k, v) in c {
        let address = v.contains(':')
            || v.starts_with('/')
            || k.ends_with("bind-host")
            || k.ends_with("bind.host")
            || k.contains(".dir")
            || k.contains("port")
            || k == "dfs.datanode.hostname"
            || k == "hadoop.tmp.dir";
        if !address {
            assert_eq!(v, &l[k], "{file}: {k}");
        }
    }
    let addresses: Vec<&String> = l.values().filter(|v| v.contains(':')).collect();
    assert!(
        addresses
            .iter()
            .all(|v| !v.contains("ha-") && !v.contains("0.0.0.0") && !v.contains("zookeeper:")),
        "{file}: local HA stays on loopback: {addresses:?}"
    );
}

/// scripts/stack's HA mode (LOADGEN_HA=local) and compose's ha profile render the same templates: the
/// same properties with the same values, but for addresses (loopback and ports apart, or a host name
/// per daemon) and each local NameNode's id.
#[test]
fn local_ha_mode_and_the_ha_profile_configure_hdfs_and_hive_alike() {
    let compose = render_ha(
        "hdfs",
        &[("LOADGEN_TEMPLATES", "ha"), ("HOSTNAME", "ha-namenode-2")],
        "namenode",
        "1",
    );
    let local = render_ha("hdfs", &[("LOADGEN_HA", "local")], "namenode", "2");
    for file in ["hdfs-site.xml", "core-site.xml"] {
        let c = properties(&read(&compose.join(file)));
        let mut l = properties(&read(&local.join(file)));
        if file == "hdfs-site.xml" {
            assert_eq!(
                l.remove("dfs.ha.namenode.id").as_deref(),
                Some("nn2"),
                "the second local NameNode is told its id"
            );
        }
        same_but_addresses(file, &c, &l);
    }
    let l = properties(&read(&local.join("hdfs-site.xml")));
    assert_eq!(l["dfs.namenode.rpc-address.loadgen.nn2"], "127.0.0.1:8021");
    assert_eq!(
        l["dfs.namenode.shared.edits.dir"],
        "qjournal://127.0.0.1:8485;127.0.0.1:8486;127.0.0.1:8487/loadgen"
    );

    let compose = render_ha(
        "hive",
        &[
            ("LOADGEN_TEMPLATES", "ha"),
            ("HOSTNAME", "ha-hiveserver2-2"),
        ],
        "hiveserver2",
        "1",
    );
    let local = render_ha("hive", &[("LOADGEN_HA", "local")], "hiveserver2", "2");
    let c = properties(&read(&compose.join("hive-site.xml")));
    let l = properties(&read(&local.join("hive-site.xml")));
    same_but_addresses("hive-site.xml", &c, &l);
    assert_eq!(l["hive.server2.thrift.port"], "10002");
    assert_eq!(l["hive.zookeeper.quorum"], "127.0.0.1:2182");
    assert_eq!(l["hive.server2.thrift.bind.host"], "127.0.0.1");
}
