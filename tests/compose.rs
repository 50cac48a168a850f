//! Checks docker/compose.yaml and docker/*/Dockerfile without a container engine, against the local stack's
//! own definitions: the server table docker/servers.txt (which scripts/stack reads), docker/ports.env, and
//! the run scripts and templates under docker/; and that table itself. scripts/containers builds the images
//! and runs the compose file with podman (docs/stack.md); this test is what runs without one.

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

/// `KEY=value` lines of a ports.env file (docker/ports.env, docker/ha/ports.env) as variable -> port.
fn ports_env(rel: &str) -> BTreeMap<String, u16> {
    read(&docker().join(rel))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (
                k.to_string(),
                v.parse()
                    .unwrap_or_else(|_| panic!("docker/{rel}: port {l}")),
            )
        })
        .collect()
}

/// Where a row of docker/servers.txt applies (its MODES column, comma-separated).
#[derive(Debug, Clone, PartialEq)]
enum When {
    Both,
    Default,
    Ha,
    /// `default:VAR>=N`: the default mode when VAR >= N (or the process's PID file exists: never here).
    DefaultIf(String, u32),
}

/// A port of a process row: a variable of ports.env, plus a number (`VAR` or `VAR+N`).
#[derive(Debug)]
struct PortExpr {
    var: String,
    plus: u16,
}

#[derive(Debug)]
enum Kind {
    Server {
        needs: Option<String>,
        timeout: u32,
    },
    Proc {
        server: String,
        ports: Vec<PortExpr>,
        command: String,
    },
}

/// One row of docker/servers.txt.
#[derive(Debug)]
struct Row {
    line: usize,
    name: String,
    when: Vec<When>,
    kind: Kind,
}

impl Row {
    fn applies(&self, mode: Mode) -> bool {
        self.when.iter().any(|w| match w {
            When::Both => true,
            When::Default => !mode.ha,
            When::Ha => mode.ha,
            When::DefaultIf(var, n) => !mode.ha && mode.var(var, self.line) >= *n,
        })
    }

    /// Whether the row can apply in the default mode, or in the ha mode (whatever the variables say).
    fn modes(&self) -> (bool, bool) {
        let default = self
            .when
            .iter()
            .any(|w| matches!(w, When::Both | When::Default | When::DefaultIf(..)));
        let ha = self.when.iter().any(|w| matches!(w, When::Both | When::Ha));
        (default, ha)
    }
}

/// docker/servers.txt, the server table that scripts/stack reads; its header describes the format.
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn load() -> Table {
        let text = read(&docker().join("servers.txt"));
        let mut rows = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let line = i + 1;
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.is_empty() || w[0].starts_with('#') {
                continue;
            }
            let at = |what: &str| format!("docker/servers.txt:{line}: {what}: {l}");
            let kind = match w[0] {
                "server" => {
                    assert_eq!(w.len(), 5, "{}", at("server NAME MODES NEEDS TIMEOUT"));
                    let timeout: u32 = w[4].parse().unwrap_or_else(|_| panic!("{}", at("TIMEOUT")));
                    assert!(timeout > 0, "{}", at("TIMEOUT"));
                    Kind::Server {
                        needs: (w[3] != "-").then(|| w[3].to_string()),
                        timeout,
                    }
                }
                "proc" => {
                    assert!(
                        w.len() >= 6,
                        "{}",
                        at("proc SERVER NAME MODES PORTS COMMAND...")
                    );
                    let ports = w[4]
                        .split(',')
                        .map(|e| {
                            let (var, plus) = e.split_once('+').unwrap_or((e, "0"));
                            let ok = !var.is_empty()
                                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                            assert!(ok, "{}", at(&format!("port {e} is not VAR or VAR+N")));
                            let plus = plus
                                .parse()
                                .unwrap_or_else(|_| panic!("{}", at(&format!("port {e}"))));
                            PortExpr {
                                var: var.to_string(),
                                plus,
                            }
                        })
                        .collect();
                    Kind::Proc {
                        server: w[1].to_string(),
                        ports,
                        command: w[5..].join(" "),
                    }
                }
                other => panic!("{}", at(&format!("a row is server or proc, not {other}"))),
            };
            let (name, modes) = match kind {
                Kind::Server { .. } => (w[1], w[2]),
                Kind::Proc { .. } => (w[2], w[3]),
            };
            let when = modes
                .split(',')
                .map(|m| match m {
                    "both" => When::Both,
                    "default" => When::Default,
                    "ha" => When::Ha,
                    _ => {
                        let cond = m.strip_prefix("default:").and_then(|c| c.split_once(">="));
                        let (var, n) =
                            cond.unwrap_or_else(|| panic!("{}", at(&format!("mode {m}"))));
                        assert!(
                            matches!(kind, Kind::Proc { .. }),
                            "{}",
                            at("only a proc row depends on a variable")
                        );
                        let n = n
                            .parse()
                            .unwrap_or_else(|_| panic!("{}", at(&format!("mode {m}"))));
                        When::DefaultIf(var.to_string(), n)
                    }
                })
                .collect();
            rows.push(Row {
                line,
                name: name.to_string(),
                when,
                kind,
            });
        }
        assert!(!rows.is_empty(), "docker/servers.txt has no rows");
        Table { rows }
    }
}

/// A mode of scripts/stack: `up` (with HDFS_DATANODES) or `up --ha`; no PID files (nothing runs).
#[derive(Debug, Clone, Copy)]
struct Mode {
    ha: bool,
    datanodes: u32,
}

impl Mode {
    const DEFAULT: Mode = Mode {
        ha: false,
        datanodes: 1,
    };
    const HA: Mode = Mode {
        ha: true,
        datanodes: 1,
    };
    /// Every mode scripts/stack accepts (HDFS_DATANODES is 1, 2 or 3; the ha mode ignores it).
    const ALL: [Mode; 6] = [
        Mode::DEFAULT,
        Mode {
            ha: false,
            datanodes: 2,
        },
        Mode {
            ha: false,
            datanodes: 3,
        },
        Mode::HA,
        Mode {
            ha: true,
            datanodes: 2,
        },
        Mode {
            ha: true,
            datanodes: 3,
        },
    ];

    /// The variables a `default:VAR>=N` row may name.
    fn var(&self, var: &str, line: usize) -> u32 {
        match var {
            "HDFS_DATANODES" => self.datanodes,
            _ => panic!("docker/servers.txt:{line}: {var} is no variable scripts/stack sets"),
        }
    }
}

/// The local stack's tables in one mode, as scripts/stack fills them from docker/servers.txt, and the
/// ports of docker/ports.env.
struct Local {
    servers: Vec<String>,
    needs: BTreeMap<String, String>,
    procs: BTreeMap<String, Vec<String>>,
    cmd: BTreeMap<String, String>,
    ports: BTreeMap<String, Vec<u16>>,
    timeout: BTreeMap<String, u32>,
    /// docker/ports.env (the default mode's ports; the ha mode adds docker/ha/ports.env).
    env: BTreeMap<String, u16>,
}

impl Local {
    /// `scripts/stack up`: the default mode with one DataNode, as compose's default profile runs it.
    fn load() -> Local {
        Local::resolve(&Table::load(), Mode::DEFAULT)
    }

    /// The rows of `table` that apply in `mode`, checked as scripts/stack checks them.
    fn resolve(table: &Table, mode: Mode) -> Local {
        let env = ports_env("ports.env");
        let mut vars = env.clone();
        if mode.ha {
            vars.extend(ports_env("ha/ports.env"));
        }
        let mut local = Local {
            servers: Vec::new(),
            needs: BTreeMap::new(),
            procs: BTreeMap::new(),
            cmd: BTreeMap::new(),
            ports: BTreeMap::new(),
            timeout: BTreeMap::new(),
            env,
        };
        for row in table.rows.iter().filter(|r| r.applies(mode)) {
            let at = format!("docker/servers.txt:{} ({mode:?})", row.line);
            match &row.kind {
                Kind::Server { needs, timeout } => {
                    let twice = local.timeout.insert(row.name.clone(), *timeout);
                    assert!(twice.is_none(), "{at}: server {} twice", row.name);
                    local.servers.push(row.name.clone());
                    local.procs.insert(row.name.clone(), Vec::new());
                    if let Some(n) = needs {
                        local.needs.insert(row.name.clone(), n.clone());
                    }
                }
                Kind::Proc {
                    server,
                    ports,
                    command,
                } => {
                    let procs = local.procs.get_mut(server).unwrap_or_else(|| {
                        panic!("{at}: {}: no row of server {server} above it", row.name)
                    });
                    procs.push(row.name.clone());
                    let twice = local.cmd.insert(row.name.clone(), command.clone());
                    assert!(twice.is_none(), "{at}: process {} twice", row.name);
                    let nums = ports
                        .iter()
                        .map(|p| {
                            let base = vars.get(&p.var).unwrap_or_else(|| {
                                panic!(
                                    "{at}: {}: {} is in no ports.env of this mode",
                                    row.name, p.var
                                )
                            });
                            base + p.plus
                        })
                        .collect();
                    local.ports.insert(row.name.clone(), nums);
                }
            }
        }
        for (s, procs) in &local.procs {
            assert!(!procs.is_empty(), "{mode:?}: server {s} has no process");
        }
        local
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

/// docker/servers.txt on its own: every command a run script (with a role it knows), no process twice,
/// every port a variable of a ports.env the row's mode reads, and every mode resolvable.
#[test]
fn server_table_is_well_formed() {
    let table = Table::load();
    let env = ports_env("ports.env");
    let ha_env = ports_env("ha/ports.env");
    for k in ha_env.keys() {
        assert!(
            !env.contains_key(k),
            "docker/ha/ports.env redefines {k} of docker/ports.env"
        );
    }
    let mut server_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for row in &table.rows {
        let at = format!("docker/servers.txt:{}: {}", row.line, row.name);
        let (in_default, in_ha) = row.modes();
        let Kind::Proc {
            server,
            ports,
            command,
        } = &row.kind
        else {
            continue;
        };
        if let Some(other) = server_of.insert(&row.name, server) {
            assert_eq!(other, server, "{at}: a process of two servers");
        }
        // docker/<server>/run, executable, and a role it knows (a number is an index).
        let words: Vec<String> = command.split_whitespace().map(String::from).collect();
        let script = run_script(&words, &at);
        assert_eq!(
            words[0],
            format!("{server}/run"),
            "{at}: not the run script of {server}"
        );
        for arg in &words[1..] {
            if !arg.chars().all(|c| c.is_ascii_digit()) {
                assert!(
                    read(&script).contains(&format!("  {arg})")),
                    "{at}: docker/{server}/run has no role {arg}"
                );
            }
        }
        for p in ports {
            used.insert(p.var.clone());
            if in_default {
                assert!(
                    env.contains_key(&p.var),
                    "{at}: {} is not in docker/ports.env (the row applies in the default mode)",
                    p.var
                );
            } else {
                assert!(in_ha);
                assert!(
                    env.contains_key(&p.var) || ha_env.contains_key(&p.var),
                    "{at}: {} is in neither docker/ports.env nor docker/ha/ports.env",
                    p.var
                );
            }
        }
    }
    for k in env.keys().chain(ha_env.keys()) {
        assert!(used.contains(k), "{k} (ports.env) is no process's port");
    }
    // Two rows of one name never apply in the same mode, whatever the variables say.
    for (i, a) in table.rows.iter().enumerate() {
        for b in &table.rows[i + 1..] {
            let same_kind = matches!(
                (&a.kind, &b.kind),
                (Kind::Server { .. }, Kind::Server { .. }) | (Kind::Proc { .. }, Kind::Proc { .. })
            );
            if same_kind && a.name == b.name {
                let ((ad, ah), (bd, bh)) = (a.modes(), b.modes());
                let both_default = ad && bd;
                let both_ha = ah && bh;
                assert!(
                    !both_default && !both_ha,
                    "docker/servers.txt:{} and {}: two rows of {} in one mode",
                    a.line,
                    b.line,
                    a.name
                );
            }
        }
    }
    for mode in Mode::ALL {
        let local = Local::resolve(&table, mode);
        let position = |s: &str| local.servers.iter().position(|x| x == s);
        for (s, need) in &local.needs {
            let (i, j) = (position(s).unwrap(), position(need));
            assert!(
                j.is_some_and(|j| j < i),
                "{mode:?}: {s} needs {need}, which does not start before it"
            );
        }
        let mut seen = BTreeMap::new();
        for (p, ports) in &local.ports {
            for port in ports {
                if let Some(other) = seen.insert(*port, p) {
                    panic!("{mode:?}: port {port} is of {other} and of {p}");
                }
            }
        }
        // HDFS_DATANODES DataNodes (three in the ha mode): DataNode N has the first one's ports plus
        // 10000 x (N - 1) and runs `hdfs/run datanode N`.
        let datanodes: Vec<&String> = local.procs["hdfs"]
            .iter()
            .filter(|p| local.cmd[*p].starts_with("hdfs/run datanode"))
            .collect();
        let want = if mode.ha { 3 } else { mode.datanodes };
        assert_eq!(datanodes.len(), want as usize, "{mode:?}: {datanodes:?}");
        let first = &local.ports[datanodes[0]];
        for (i, dn) in datanodes.iter().enumerate().skip(1) {
            let n = i + 1;
            let shifted: Vec<u16> = first.iter().map(|p| p + 10000 * i as u16).collect();
            assert_eq!(local.ports[*dn], shifted, "{mode:?}: {dn}'s ports");
            assert_eq!(
                local.cmd[*dn],
                format!("hdfs/run datanode {n}"),
                "{mode:?}: {dn}"
            );
        }
    }
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
            "{proc}: command differs from docker/servers.txt's"
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
                "{proc}: port {port} (docker/servers.txt) is not published by {owner}"
            );
        }
    }
    assert_eq!(
        unique, known,
        "published ports differ from docker/ports.env"
    );
    let local_ports: BTreeSet<u16> = local.ports.values().flatten().copied().collect();
    assert_eq!(
        local_ports, known,
        "the default mode's ports (docker/servers.txt) differ from docker/ports.env"
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
            "{proc}: start_period != its server's TIMEOUT in docker/servers.txt"
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

/// A Dockerfile's global build arguments (ARG lines before the first FROM) with their defaults.
fn global_args(ins: &[(String, String)]) -> BTreeMap<String, String> {
    ins.iter()
        .take_while(|(op, _)| op != "FROM")
        .filter(|(op, _)| op == "ARG")
        .map(|(_, a)| {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// A FROM line's image as written (`${NAME}` for a build argument) and as built by default.
fn from_image(from: &str, args: &BTreeMap<String, String>, file: &str) -> (String, String) {
    let written = from.split_whitespace().next().unwrap().to_string();
    let built = match written.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(name) => args
            .get(name)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| panic!("{file}: FROM {written} without a default"))
            .clone(),
        None => written.clone(),
    };
    (written, built)
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
        let dockerfile = s["build"]["dockerfile"].as_str().expect("build.dockerfile");
        // One image per Dockerfile, named after its server: the services of a server share it (built
        // once), and scripts/containers builds it under that name for podman-compose to find.
        let server = dockerfile.split('/').next().unwrap();
        assert_eq!(
            s["image"].as_str(),
            Some(format!("loadgen/{server}").as_str()),
            "{name}: image of {dockerfile}"
        );
        files.insert(dockerfile.to_string());
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
        // Both base images are build arguments (scripts/containers passes local ones: no registry here)
        // whose defaults are the public Maven and Temurin images.
        let args = global_args(&ins);
        let (build_written, build_image) = from_image(froms[0], &args, &rel);
        let (run_written, run_image) = from_image(froms[1], &args, &rel);
        assert_eq!(build_written, "${MAVEN_IMAGE}", "{rel}: build stage");
        assert!(
            froms[0].ends_with(" AS fetch"),
            "{rel}: the Maven stage is `fetch` (scripts/containers replaces it with a build context)"
        );
        assert_eq!(run_written, "${JRE_IMAGE}", "{rel}: runtime stage");
        for image in [&build_image, &run_image] {
            assert_no_registry_host(image, &rel);
        }
        assert!(
            build_image.contains("maven") && build_image.contains("17"),
            "{rel}: build stage {build_image}"
        );
        assert!(
            run_image.contains("17-jre"),
            "{rel}: runtime stage must be a Java 17 JRE: {run_image}"
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
            "{rel}: CMD {joined} is none of docker/servers.txt's commands for {server}"
        );
        assert!(
            ins.iter()
                .any(|(op, a)| op == "WORKDIR" && a == IMAGE_DOCKER_DIR),
            "{rel}: WORKDIR {IMAGE_DOCKER_DIR}"
        );
    }
}

/// What a command runs: "hdfs namenode" for `hdfs/run namenode 2`, "kafka" for any Kafka node, "zookeeper"
/// for `zookeeper/run`.
fn role_of(command: &[String]) -> String {
    let server = command[0].split('/').next().unwrap();
    match (server, command.get(1).map(String::as_str)) {
        ("kafka", _) => "kafka".to_string(),
        (srv, Some(r)) => format!("{srv} {r}"),
        (srv, None) => srv.to_string(),
    }
}

/// The role of a service of compose's ha profile (its ZooKeeper is an image: "zookeeper").
fn compose_role(s: &Yaml) -> String {
    if s["image"]
        .as_str()
        .is_some_and(|i| i.starts_with("zookeeper:"))
    {
        "zookeeper".to_string()
    } else {
        role_of(&strings(&s["command"]))
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
        let role = compose_role(s);
        if role != "zookeeper" {
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
        }
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
    let conf = render_config(
        "hdfs",
        &[("LOADGEN_TEMPLATES", "ha"), ("HOSTNAME", "ha-datanode-1")],
        "datanode",
        "1",
    );
    let hdfs_site = read(&conf.join("hdfs-site.xml"));
    let core_site = read(&conf.join("core-site.xml"));
    let hive_conf = render_config(
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

/// scripts/stack's ha mode (docker/servers.txt) runs the daemons of compose's ha profile: as many of each
/// role, in a start order that keeps the profile's depends_on.
#[test]
fn local_ha_mode_runs_the_ha_profiles_daemons() {
    let compose = Compose::load();
    let local = Local::resolve(&Table::load(), Mode::HA);
    let ha: Vec<(&String, &Yaml)> = compose
        .services
        .iter()
        .filter(|(n, _)| compose.in_ha(n))
        .collect();
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for (_, s) in &ha {
        *want.entry(compose_role(s)).or_default() += 1;
    }
    let server = |role: &str| role.split(' ').next().unwrap().to_string();
    let servers: BTreeSet<String> = want.keys().map(|r| server(r)).collect();
    // The local processes of the profile's servers, in start order, by role.
    let order: Vec<String> = local
        .ordered_procs()
        .iter()
        .map(|(_, p)| {
            let command: Vec<String> = local.cmd[p].split_whitespace().map(String::from).collect();
            role_of(&command)
        })
        .filter(|r| servers.contains(&server(r)))
        .collect();
    let mut have: BTreeMap<String, usize> = BTreeMap::new();
    for r in &order {
        *have.entry(r.clone()).or_default() += 1;
    }
    assert_eq!(
        have, want,
        "daemons of the local ha mode (docker/servers.txt) and of compose's ha profile"
    );
    for (name, s) in &ha {
        let role = compose_role(s);
        for dep in depends_on(s).keys() {
            let dep_role = compose_role(compose.service(dep));
            let first = order.iter().position(|r| *r == dep_role).unwrap();
            let last = order.iter().rposition(|r| *r == role).unwrap();
            assert!(
                first < last,
                "{name} depends on {dep}, but the local ha mode starts every {role} before the first {dep_role}"
            );
        }
    }
}

/// Renders docker/<server>/run's configuration for one process (LOADGEN_RENDER_ONLY: nothing starts)
/// into a state folder of its own and returns the configuration folder. `("LOADGEN_TEMPLATES", "ha")`
/// stands for docker/ha/<server>, as compose's ha profile sets it.
fn render_config(server: &str, env: &[(&str, &str)], role: &str, idx: &str) -> PathBuf {
    // A folder per call: tests run in parallel and may render the same process.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let state = std::env::temp_dir().join(format!(
        "loadgen-compose-render-{}-{call}-{server}-{role}-{idx}",
        std::process::id(),
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
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("docker/{server}/run: {e}"));
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
    let compose = render_config(
        "hdfs",
        &[("LOADGEN_TEMPLATES", "ha"), ("HOSTNAME", "ha-namenode-2")],
        "namenode",
        "1",
    );
    let local = render_config("hdfs", &[("LOADGEN_HA", "local")], "namenode", "2");
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

    let compose = render_config(
        "hive",
        &[
            ("LOADGEN_TEMPLATES", "ha"),
            ("HOSTNAME", "ha-hiveserver2-2"),
        ],
        "hiveserver2",
        "1",
    );
    let local = render_config("hive", &[("LOADGEN_HA", "local")], "hiveserver2", "2");
    let c = properties(&read(&compose.join("hive-site.xml")));
    let l = properties(&read(&local.join("hive-site.xml")));
    same_but_addresses("hive-site.xml", &c, &l);
    assert_eq!(l["hive.server2.thrift.port"], "10002");
    assert_eq!(l["hive.zookeeper.quorum"], "127.0.0.1:2182");
    assert_eq!(l["hive.server2.thrift.bind.host"], "127.0.0.1");
}

/// The ports of docker/servers.txt are those the run scripts configure: every HDFS and Hive process of
/// the default mode (three DataNodes) and of the ha mode renders its configuration, whose listen
/// addresses must be the table's ports, in the table's order.
#[test]
fn hdfs_and_hive_processes_listen_on_their_table_ports() {
    let table = Table::load();
    for mode in [
        Mode {
            ha: false,
            datanodes: 3,
        },
        Mode::HA,
    ] {
        let local = Local::resolve(&table, mode);
        let env: &[(&str, &str)] = if mode.ha {
            &[("LOADGEN_HA", "local")]
        } else {
            &[]
        };
        for p in local.procs["hdfs"].iter().chain(&local.procs["hive"]) {
            let words: Vec<&str> = local.cmd[p].split_whitespace().collect();
            let server = words[0].trim_end_matches("/run");
            let (role, idx) = (words[1], words.get(2).copied().unwrap_or("1"));
            let conf = render_config(server, env, role, idx);
            let file = format!("{server}-site.xml");
            let props = properties(&read(&conf.join(&file)));
            let nn = format!("loadgen.nn{idx}");
            let names: Vec<String> = match (role, mode.ha) {
                ("namenode", false) => vec![
                    "dfs.namenode.rpc-address".into(),
                    "dfs.namenode.http-address".into(),
                ],
                ("namenode", true) => vec![
                    format!("dfs.namenode.rpc-address.{nn}"),
                    format!("dfs.namenode.http-address.{nn}"),
                ],
                ("zkfc", _) => vec![format!("dfs.ha.zkfc.port.{nn}")],
                ("journalnode", _) => vec![
                    "dfs.journalnode.rpc-address".into(),
                    "dfs.journalnode.http-address".into(),
                ],
                ("datanode", _) => vec![
                    "dfs.datanode.address".into(),
                    "dfs.datanode.http.address".into(),
                    "dfs.datanode.ipc.address".into(),
                ],
                ("metastore", _) => vec!["metastore.thrift.port".into()],
                ("hiveserver2", false) => vec![
                    "hive.server2.thrift.port".into(),
                    "hive.server2.thrift.http.port".into(),
                ],
                ("hiveserver2", true) => vec!["hive.server2.thrift.port".into()],
                _ => panic!("{p}: which properties hold the ports of role {role}?"),
            };
            let port = |name: &str| -> u16 {
                let v = props
                    .get(name)
                    .unwrap_or_else(|| panic!("{mode:?}: {p}: {file} has no {name}"));
                let n = v.rsplit(':').next().unwrap();
                n.parse()
                    .unwrap_or_else(|_| panic!("{mode:?}: {p}: {name} = {v}"))
            };
            let rendered: Vec<u16> = names.iter().map(|n| port(n)).collect();
            assert_eq!(
                rendered, local.ports[p],
                "{mode:?}: {p}: {names:?} of its {file} against docker/servers.txt"
            );
            // The ha mode's ZooKeeper (its run script renders nothing): where HDFS and Hive look for it.
            if mode.ha {
                let zk = format!("127.0.0.1:{}", local.ports["zookeeper"][0]);
                let (file, name) = match server {
                    "hdfs" => ("core-site.xml", "ha.zookeeper.quorum"),
                    _ => ("hive-site.xml", "hive.zookeeper.quorum"),
                };
                let props = properties(&read(&conf.join(file)));
                assert_eq!(props.get(name), Some(&zk), "{p}: {file} {name}");
            }
            // The rendering's state folder (render_config makes one per call).
            let state = conf
                .ancestors()
                .find(|a| a.parent() == Some(std::env::temp_dir().as_path()))
                .unwrap();
            std::fs::remove_dir_all(state).unwrap();
        }
    }
}

/// The images that are not a server's: the loadgen image and the local bases scripts/containers builds
/// (docker/base/), and the `net` service's image. Each base image is a build argument whose default is a
/// public image, so that a host with a registry builds them unchanged and one without passes its own.
#[test]
fn other_images_take_their_bases_as_build_arguments() {
    for (rel, wants) in [
        (
            "loadgen/Dockerfile",
            &["rust:1.88-bookworm", "debian:bookworm-slim"][..],
        ),
        ("base/jre/Dockerfile", &["debian:bookworm-slim"][..]),
        ("base/rust/Dockerfile", &["debian:bookworm-slim"][..]),
    ] {
        let ins = instructions(&read(&docker().join(rel)));
        let args = global_args(&ins);
        let built: Vec<String> = ins
            .iter()
            .filter(|(op, a)| op == "FROM" && a.starts_with("${"))
            .map(|(_, a)| from_image(a, &args, rel).1)
            .collect();
        assert_eq!(
            built, wants,
            "{rel}: base images (build arguments' defaults)"
        );
    }
    // The loadgen image runs as a user without privileges, and can build offline from a given registry.
    let loadgen = instructions(&read(&docker().join("loadgen/Dockerfile")));
    assert!(loadgen
        .iter()
        .any(|(op, a)| op == "USER" && a.starts_with("10001")));
    assert!(loadgen
        .iter()
        .any(|(op, a)| op == "FROM" && a == "scratch AS crates"));
    let compose = Compose::load();
    let net = compose.service("net");
    let image = net["image"].as_str().expect("net: image");
    let default = image
        .strip_prefix("${LOADGEN_BASE_IMAGE:-")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or_else(|| panic!("net: image {image} is not ${{LOADGEN_BASE_IMAGE:-...}}"));
    assert_eq!(default, "debian:bookworm-slim");
    // On the engine's default bridge: no project network, so no DNS server on a network of its own.
    assert_eq!(net["network_mode"].as_str(), Some("bridge"));
}

/// What running the ha profile with podman asked for: its ZooKeeper is docker/zookeeper/run in the HDFS
/// image (no registry image), listening where the ha configs look for it (zookeeper:$ZOOKEEPER_PORT), and
/// its Hive services bind 0.0.0.0 (at 127.0.0.1 HiveServer2 preloads a bind() shim compiled at start, and
/// the images have no C compiler).
#[test]
fn ha_profile_needs_no_registry_image_and_no_compiler() {
    let compose = Compose::load();
    let zk = compose.service("zookeeper");
    assert_eq!(strings(&zk["command"]), ["zookeeper/run"]);
    assert_eq!(zk["image"].as_str(), Some("loadgen/hdfs"));
    let port = ports_env("ports.env")["ZOOKEEPER_PORT"].to_string();
    assert_eq!(
        environment(zk).get("ZOOKEEPER_HA_PORT"),
        Some(&port),
        "zookeeper: the port the ha configs name (zookeeper:$ZOOKEEPER_PORT)"
    );
    for run in ["hdfs/run", "hive/run"] {
        assert!(
            read(&docker().join(run)).contains("HA_ZOOKEEPER=zookeeper:$ZOOKEEPER_PORT"),
            "docker/{run}: the ha profile's ZooKeeper address"
        );
    }
    let hdfs = read(&docker().join("hdfs/Dockerfile"));
    assert!(hdfs.contains("COPY zookeeper /opt/loadgen/docker/zookeeper"));
    for (name, s) in &compose.services {
        let command = strings(&s["command"]);
        if compose.in_ha(name) && command.first().is_some_and(|c| c == "hive/run") {
            assert_eq!(
                environment(s).get("LOADGEN_BIND").map(String::as_str),
                Some("0.0.0.0"),
                "{name}: LOADGEN_BIND"
            );
        }
    }
}
