//! `loadgen.hdfs` against the real NameNode and DataNode of `scripts/stack`.

mod common;

use common::stack::{require_hdfs, unique, HDFS};
use common::*;

#[test]
fn write_append_read_list_du_byte_for_byte() {
    require_hdfs();
    let dir = format!("/loadgen-test/{}", unique("t"));
    let case = Case::new(
        r#"
local lg = require("loadgen")
local gen = require("loadgen.gen")
local hdfs = require("loadgen.hdfs")
local c = hdfs.client{ url = lg.env("HDFS") }
local dir = lg.env("DIR")
options = { scenarios = { w = { executor = "per-vu-iterations", vus = 2, iterations = 5 } },
            thresholds = { checks = { "rate == 1" } } }
function setup() assert(c:mkdirs(dir).ok) end
function default()
  local path = dir .. "/f-" .. lg.vu() .. "-" .. lg.iteration()
  -- Binary content with every byte value, then text appended.
  local parts = {}
  for i = 0, 255 do parts[#parts + 1] = string.char(i) end
  local first = table.concat(parts) .. gen.string(10000)
  local second = gen.sentence(50)
  local w = c:write(path, first)
  local a = c:append(path, second)
  local r = c:read(path)
  lg.check(r, {
    ["write ok"] = function() return w.ok and a.ok end,
    ["bytes match"] = function(r) return r.data == first .. second end,
  })
  for what, x in pairs({ write = w, append = a, read = r }) do
    if x.err then print(what, path, x.err, x.error) end
  end
end
function teardown()
  local l = c:list(dir)
  local d = c:du(dir)
  local total = 0
  for _, e in ipairs(l.entries) do total = total + e.length end
  lg.check(l, { ["10 files"] = function(l) return #l.entries == 10 end })
  lg.check(d, { ["du matches"] = function(d) return d.bytes == total and d.files == 10 end })
  local missing = c:read(dir .. "/nope")
  lg.check(missing, { ["missing file is a client error"] = function(m) return m.err == "client" end })
  assert(c:delete(dir, { recursive = true }).deleted)
end
"#,
    );
    let o = case.run(&["-e", &format!("HDFS={HDFS}"), "-e", &format!("DIR={dir}")]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    let written = r["metrics"]["hdfs.write"]["units"]["bytes"]
        .as_u64()
        .unwrap()
        + r["metrics"]["hdfs.append"]["units"]["bytes"]
            .as_u64()
            .unwrap();
    let read = r["metrics"]["hdfs.read"]["units"]["bytes"]
        .as_u64()
        .unwrap();
    assert_eq!(written, read);
    assert_eq!(r["metrics"]["hdfs.write"]["count"], 10);
}

#[test]
fn unreachable_namenode_is_an_error_within_the_timeout() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let case = Case::new(&format!(
        "local hdfs = require('loadgen.hdfs')\nlocal c = hdfs.client{{ url = 'hdfs://127.0.0.1:{port}', timeout = '5s' }}\nfunction default() c:du('/') end\n"
    ));
    let started = std::time::Instant::now();
    let o = case.run(&[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&o)
    );

    let case = Case::new(&format!(
        "local hdfs = require('loadgen.hdfs')\nlocal c = hdfs.client{{ url = 'hdfs://127.0.0.1:{port}', timeout = '3s', healthcheck = false }}\noptions = {{ iterations = 2 }}\nfunction default() c:du('/') end\n"
    ));
    let started = std::time::Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let errors = &case.result()["metrics"]["hdfs.du"]["errors"];
    assert_eq!(
        case.result()["metrics"]["hdfs.du"]["error_count"],
        2,
        "{errors}"
    );
    assert!(
        errors.get("connect").is_some() || errors.get("timeout").is_some(),
        "{errors}"
    );
}

/// loadgen's own write path (the default) and hdfs-native's writer, side by side: files of several
/// blocks, an empty file, a refused overwrite, each read back byte for byte.
#[test]
fn both_writers_write_multi_block_files_byte_for_byte() {
    require_hdfs();
    let dir = format!("/loadgen-test/{}", unique("w"));
    let case = Case::new(
        r#"
local lg = require("loadgen")
local gen = require("loadgen.gen")
local hdfs = require("loadgen.hdfs")
local url, dir = lg.env("HDFS"), lg.env("DIR")
local own = hdfs.client{ url = url }
local native = hdfs.client{ url = url, writer = "hdfs-native" }
options = { iterations = 1, thresholds = { checks = { "rate == 1" } } }
function default()
  -- 2.5 MiB in blocks of 1 MiB (the NameNode's smallest): three blocks, the last one partial.
  local parts = {}
  for i = 1, 2560 do parts[#parts + 1] = gen.string(1024) end
  local data = table.concat(parts)
  for name, c in pairs({ own = own, native = native }) do
    local path = dir .. "/" .. name
    local w = c:write(path, data, { block_size = 1048576, replication = 1 })
    local r = own:read(path)
    local l = own:list(dir .. "/" .. name)
    lg.check(w, {
      [name .. " write ok"] = function(w) return w.ok == true end,
      [name .. " bytes match"] = function() return r.data == data end,
      [name .. " length"] = function() return l.entries[1].length == #data end,
    })
    local e = c:write(dir .. "/empty-" .. name, "")
    local er = own:read(dir .. "/empty-" .. name)
    lg.check(e, { [name .. " empty file"] = function(e) return e.ok and er.size == 0 end })
    local again = c:write(path, "x", { overwrite = false })
    lg.check(again, { [name .. " no overwrite: client error"] = function(a) return a.err == "client" end })
    local relative = c:write("loadgen-relative-" .. name, "abc")
    lg.check(relative, { [name .. " relative path"] = function(w) return w.ok == true end })
    own:delete("loadgen-relative-" .. name)
  end
  own:delete(dir, { recursive = true })
end
"#,
    );
    let o = case.run(&["-e", &format!("HDFS={HDFS}"), "-e", &format!("DIR={dir}")]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    let w = &r["metrics"]["hdfs.write"];
    // 2 big files, 2 empty ones, 2 relative ones written; 2 refused overwrites.
    assert_eq!(w["count"], 8, "{w}");
    assert_eq!(w["error_count"], 2, "{w}");
    assert_eq!(w["errors"]["client"], 2, "{w}");
    assert_eq!(w["units"]["bytes"], 2 * 2560 * 1024 + 2 * 3, "{w}");
    // Only loadgen's writer counts the NameNode's "not yet" answers; the unit is there even at 0.
    assert!(w["units"]["complete_waits"].is_u64(), "{w}");
}

#[test]
fn a_bad_writer_or_write_option_is_a_clear_error() {
    let case = Case::new(
        "local hdfs = require('loadgen.hdfs')\nlocal c = hdfs.client{ url = 'hdfs://127.0.0.1:1', writer = 'java', healthcheck = false }\nfunction default() end\n",
    );
    let o = case.run(&[]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("writer 'java' is not one of: loadgen, hdfs-native"),
        "{}",
        stderr(&o)
    );
    let case = Case::new(
        "local hdfs = require('loadgen.hdfs')\nlocal c = hdfs.client{ url = 'hdfs://127.0.0.1:1', healthcheck = false }\noptions = { iterations = 1 }\nfunction default() c:write('/x', 'y', { replication = 0 }) end\n",
    );
    let o = case.run(&[]);
    // An error in an iteration is counted and named in the result; the run goes on.
    let errors = case.result()["script_errors"].to_string();
    assert!(
        errors.contains(
            "hdfs write: replication must be a whole number of at least 1 (and at most 512), not 0"
        ),
        "{errors}\n{}",
        stderr(&o)
    );
}

/// A nameservice URL needs its NameNodes, and NameNodes need a nameservice URL: either mistake is a
/// script error in init that names the URL, before anything is contacted.
#[test]
fn a_nameservice_without_namenodes_and_namenodes_without_one_are_clear_errors() {
    for (client, want) in [
        (
            r#"hdfs.client{ url = "hdfs://loadgen" }"#,
            "url 'hdfs://loadgen' names a nameservice: give its NameNodes",
        ),
        (
            r#"hdfs.client{ url = "hdfs://127.0.0.1:8020", namenodes = { "127.0.0.1:8021" } }"#,
            "namenodes are for a nameservice URL (hdfs://NAME), not 'hdfs://127.0.0.1:8020'",
        ),
    ] {
        let case = Case::new(&format!(
            "local hdfs = require('loadgen.hdfs')\nlocal c = {client}\nfunction default() end\n"
        ));
        let o = case.run(&[]);
        assert_eq!(code(&o), 3, "{}", stderr(&o));
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
    }
}
