//! The daemon's configuration: command-line flags (clap) merged with the JSON config file
//! (`--config-file`, default /etc/pouch/config.json), whose keys are the long flag names.
//! A key given both ways is an error (no silent precedence), as is an unknown key; a
//! missing default file is fine, a missing file named on the command line is not.
//! Writing the file back (`pouch updatedaemon`) is `config_file`'s.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches, Parser};

/// Default `--config-file`.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/pouch/config.json";

/// pouchd: the Pouch container engine daemon (Docker Engine API 1.44).
#[derive(Debug, Parser)]
#[command(name = "pouchd", version, about)]
pub struct Flags {
    /// Directory for persistent state (images, metadata)
    #[arg(
        long = "home-dir",
        value_name = "DIR",
        default_value = "/var/lib/pouch"
    )]
    pub home_dir: PathBuf,
    /// Directory for runtime state
    #[arg(long = "exec-root", value_name = "DIR", default_value = "/run/pouch")]
    pub exec_root: PathBuf,
    /// Address to serve the API on: unix:///path or tcp://host:port (repeatable)
    #[arg(
        short = 'l',
        long = "listen",
        value_name = "ADDR",
        default_value = "unix:///var/run/pouchd.sock"
    )]
    pub listen: Vec<String>,
    /// Mirror of docker.io tried before it, e.g. http://127.0.0.1:5000 (repeatable)
    #[arg(long = "registry-mirror", value_name = "URL")]
    pub registry_mirror: Vec<String>,
    /// Registry reached over plain HTTP: host:port, host or CIDR (repeatable)
    #[arg(long = "insecure-registry", value_name = "REGISTRY")]
    pub insecure_registry: Vec<String>,
    /// Layers downloaded at once per pull
    #[arg(
        long = "max-concurrent-downloads",
        value_name = "N",
        default_value_t = 3
    )]
    pub max_concurrent_downloads: usize,
    /// Log at debug level
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Write the daemon's pid to this file
    #[arg(long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// OCI runtime containers use unless they name one (`--runtime`)
    #[arg(long = "default-runtime", value_name = "NAME", default_value = "runc")]
    pub default_runtime: String,
    /// Register an OCI runtime: NAME=PATH (repeatable; `runc` is always known)
    #[arg(long = "add-runtime", value_name = "NAME=PATH")]
    pub add_runtime: Vec<String>,
    /// The per-container shim binary (default: pouch-shim next to pouchd)
    #[arg(long = "shim-path", value_name = "FILE")]
    pub shim_path: Option<PathBuf>,
    /// The `--init` binary (default: pouch-init next to pouchd)
    #[arg(long = "init-path", value_name = "FILE")]
    pub init_path: Option<PathBuf>,
    /// The default bridge device
    #[arg(long = "bridge-name", value_name = "NAME", default_value = "p0")]
    pub bridge_name: String,
    /// The default bridge's address and subnet
    #[arg(long = "bip", value_name = "CIDR", default_value = "192.168.5.1/24")]
    pub bip: String,
    /// Where containers on the default bridge get their addresses (inside --bip)
    #[arg(long = "fixed-cidr", value_name = "CIDR")]
    pub fixed_cidr: Option<String>,
    /// The default route of containers on the default bridge (default: the bridge address)
    #[arg(long = "default-gateway", value_name = "IP")]
    pub default_gateway: Option<String>,
    /// MTU of the bridges and container interfaces
    #[arg(long = "mtu", value_name = "BYTES", default_value_t = 1500)]
    pub mtu: u32,
    /// Enable IPv4 forwarding
    #[arg(long = "ip-forward", visible_alias = "ipforward", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub ip_forward: bool,
    /// Masquerade outbound traffic of the default bridge
    #[arg(long = "ip-masq", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub ip_masq: bool,
    /// Manage the firewall (NAT and published ports in table ip pouch); false leaves it alone
    #[arg(long = "iptables", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub iptables: bool,
    /// The nftables table pouchd keeps its rules in (two daemons on one host need two)
    #[arg(long = "firewall-table", value_name = "NAME", default_value = "pouch")]
    pub firewall_table: String,
    /// A label of the daemon, key=value, shown by `info` (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Let containers ask for lxcfs's /proc files (`--enableLxcfs`); lxcfs must be mounted
    #[arg(long = "enable-lxcfs")]
    pub enable_lxcfs: bool,
    /// Where lxcfs is mounted
    #[arg(
        long = "lxcfs-home",
        value_name = "DIR",
        default_value = "/var/lib/lxcfs"
    )]
    pub lxcfs_home: PathBuf,
    /// JSON file with the same keys as the long flags
    #[arg(long = "config-file", value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
    pub config_file: PathBuf,
}

/// The keys the config file may set (the long flag names), with what each must hold.
const FILE_KEYS: &[(&str, Kind)] = &[
    ("home-dir", Kind::Path),
    ("exec-root", Kind::Path),
    ("listen", Kind::List),
    ("registry-mirror", Kind::List),
    ("insecure-registry", Kind::List),
    ("max-concurrent-downloads", Kind::Count),
    ("debug", Kind::Bool),
    ("pidfile", Kind::Path),
    ("default-runtime", Kind::Path),
    ("add-runtime", Kind::List),
    ("shim-path", Kind::Path),
    ("init-path", Kind::Path),
    ("bridge-name", Kind::Path),
    ("bip", Kind::Path),
    ("fixed-cidr", Kind::Path),
    ("default-gateway", Kind::Path),
    ("mtu", Kind::Count),
    ("ip-forward", Kind::Bool),
    ("ip-masq", Kind::Bool),
    ("iptables", Kind::Bool),
    ("firewall-table", Kind::Path),
    ("label", Kind::List),
    ("enable-lxcfs", Kind::Bool),
    ("lxcfs-home", Kind::Path),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Path,
    List,
    Count,
    Bool,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Path => "a string",
            Kind::List => "an array of strings",
            Kind::Count => "a positive integer",
            Kind::Bool => "true or false",
        }
    }
}

/// Where the API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Unix(PathBuf),
    /// `host:port`
    Tcp(String),
}

impl ListenAddr {
    /// Parses `unix:///path`, a bare absolute path, or `tcp://host:port`.
    pub fn parse(s: &str) -> Result<ListenAddr, ConfigError> {
        let bad = |reason: &str| ConfigError::Listen {
            addr: s.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("the socket path is empty"));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        if s.starts_with('/') {
            return Ok(ListenAddr::Unix(PathBuf::from(s)));
        }
        if let Some(hostport) = s.strip_prefix("tcp://") {
            let hostport = hostport.trim_end_matches('/');
            let Some((host, port)) = hostport.rsplit_once(':') else {
                return Err(bad("a tcp address needs a port"));
            };
            if port.parse::<u16>().is_err() {
                return Err(bad("the port is not a number from 0 to 65535"));
            }
            let host = if host.is_empty() { "0.0.0.0" } else { host };
            return Ok(ListenAddr::Tcp(format!("{host}:{port}")));
        }
        Err(bad("use unix:///path/to.sock or tcp://host:port"))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
            ListenAddr::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// The merged configuration the daemon runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    pub home_dir: PathBuf,
    pub exec_root: PathBuf,
    pub listen: Vec<ListenAddr>,
    pub registry_mirrors: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub max_concurrent_downloads: usize,
    pub debug: bool,
    pub pidfile: Option<PathBuf>,
    pub default_runtime: String,
    /// `NAME=PATH` entries, as given.
    pub add_runtimes: Vec<String>,
    pub shim_path: Option<PathBuf>,
    pub init_path: Option<PathBuf>,
    /// The default bridge and the firewall.
    pub network: pouch_engine::BridgeConfig,
    /// The config file that was read, if there was one.
    pub config_file: Option<PathBuf>,
    /// The file `--config-file` names (read or not): where daemon updates are written.
    pub config_path: PathBuf,
    /// The config keys (long flag names) given on the command line.
    pub command_line_keys: Vec<String>,
    /// `--label` entries, as given.
    pub labels: Vec<String>,
    /// `--enable-lxcfs` and `--lxcfs-home`.
    pub lxcfs: pouch_engine::LxcfsConfig,
}

/// What is wrong with the flags or the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid json: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("config file {path} must hold a json object of flag names to values")]
    NotObject { path: String },
    #[error("config key {key:?} is set both in {path} and as a flag: keep one")]
    Both { key: String, path: String },
    #[error("unknown config key {key:?} in {path} (the keys are the long flag names: {known})")]
    UnknownKey {
        key: String,
        path: String,
        known: String,
    },
    #[error("config key {key:?} in {path} must be {expected}")]
    BadValue {
        key: String,
        path: String,
        expected: &'static str,
    },
    #[error("invalid listen address {addr:?}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("--max-concurrent-downloads must be at least 1")]
    NoDownloads,
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Flags(#[from] clap::Error),
    #[error("--{key} was given on pouchd's command line, so it cannot be changed while pouchd runs (the next start would find it both there and in {path}): move it from the command line into the config file {path} to change it live")]
    FixedByFlag { key: String, path: String },
    #[error("cannot write config file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl DaemonConfig {
    /// Parses `args` (program name first) and merges the config file.
    #[cfg(test)]
    pub fn from_args<I, T>(args: I) -> Result<DaemonConfig, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = <Flags as clap::CommandFactory>::command().try_get_matches_from(args)?;
        DaemonConfig::from_matches(&matches)
    }

    /// Merges parsed flags with the config file they name.
    pub fn from_matches(matches: &ArgMatches) -> Result<DaemonConfig, ConfigError> {
        let flags = Flags::from_arg_matches(matches)?;
        let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        let mut cfg = DaemonConfig {
            home_dir: flags.home_dir,
            exec_root: flags.exec_root,
            listen: Vec::new(),
            registry_mirrors: flags.registry_mirror,
            insecure_registries: flags.insecure_registry,
            max_concurrent_downloads: flags.max_concurrent_downloads,
            debug: flags.debug,
            pidfile: flags.pidfile,
            default_runtime: flags.default_runtime,
            add_runtimes: flags.add_runtime,
            shim_path: flags.shim_path,
            init_path: flags.init_path,
            network: pouch_engine::BridgeConfig::default(),
            config_file: None,
            config_path: flags.config_file.clone(),
            command_line_keys: FILE_KEYS
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| on_command_line(&k.replace('-', "_")))
                .map(str::to_string)
                .collect(),
            labels: flags.label,
            lxcfs: pouch_engine::LxcfsConfig {
                enabled: flags.enable_lxcfs,
                home: flags.lxcfs_home,
            },
        };
        let mut listen = flags.listen;
        let mut net = NetFlags {
            bridge_name: flags.bridge_name,
            bip: flags.bip,
            fixed_cidr: flags.fixed_cidr,
            default_gateway: flags.default_gateway,
            mtu: flags.mtu,
            ip_forward: flags.ip_forward,
            ip_masq: flags.ip_masq,
            iptables: flags.iptables,
            firewall_table: flags.firewall_table,
        };

        let explicit = on_command_line("config_file");
        if let Some(file) = read_file(&flags.config_file, explicit)? {
            let path = flags.config_file.display().to_string();
            for (key, value) in file {
                let Some((_, kind)) = FILE_KEYS.iter().find(|(k, _)| *k == key) else {
                    return Err(ConfigError::UnknownKey {
                        key,
                        path,
                        known: FILE_KEYS
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                };
                if on_command_line(&key.replace('-', "_")) {
                    return Err(ConfigError::Both { key, path });
                }
                let bad = || ConfigError::BadValue {
                    key: key.clone(),
                    path: path.clone(),
                    expected: kind.expected(),
                };
                match key.as_str() {
                    "home-dir" => cfg.home_dir = as_path(&value).ok_or_else(bad)?,
                    "exec-root" => cfg.exec_root = as_path(&value).ok_or_else(bad)?,
                    "pidfile" => cfg.pidfile = Some(as_path(&value).ok_or_else(bad)?),
                    "default-runtime" => {
                        cfg.default_runtime = value.as_str().ok_or_else(bad)?.to_string()
                    }
                    "add-runtime" => cfg.add_runtimes = as_list(&value).ok_or_else(bad)?,
                    "shim-path" => cfg.shim_path = Some(as_path(&value).ok_or_else(bad)?),
                    "init-path" => cfg.init_path = Some(as_path(&value).ok_or_else(bad)?),
                    "listen" => listen = as_list(&value).ok_or_else(bad)?,
                    "registry-mirror" => cfg.registry_mirrors = as_list(&value).ok_or_else(bad)?,
                    "insecure-registry" => {
                        cfg.insecure_registries = as_list(&value).ok_or_else(bad)?
                    }
                    "max-concurrent-downloads" => {
                        cfg.max_concurrent_downloads = value
                            .as_u64()
                            .filter(|n| *n >= 1)
                            .and_then(|n| usize::try_from(n).ok())
                            .ok_or_else(bad)?
                    }
                    "debug" => cfg.debug = value.as_bool().ok_or_else(bad)?,
                    "bridge-name" => net.bridge_name = value.as_str().ok_or_else(bad)?.into(),
                    "bip" => net.bip = value.as_str().ok_or_else(bad)?.into(),
                    "fixed-cidr" => net.fixed_cidr = Some(value.as_str().ok_or_else(bad)?.into()),
                    "default-gateway" => {
                        net.default_gateway = Some(value.as_str().ok_or_else(bad)?.into())
                    }
                    "mtu" => {
                        net.mtu = value
                            .as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(bad)?
                    }
                    "ip-forward" => net.ip_forward = value.as_bool().ok_or_else(bad)?,
                    "ip-masq" => net.ip_masq = value.as_bool().ok_or_else(bad)?,
                    "iptables" => net.iptables = value.as_bool().ok_or_else(bad)?,
                    "firewall-table" => net.firewall_table = value.as_str().ok_or_else(bad)?.into(),
                    "label" => cfg.labels = as_list(&value).ok_or_else(bad)?,
                    "enable-lxcfs" => cfg.lxcfs.enabled = value.as_bool().ok_or_else(bad)?,
                    "lxcfs-home" => cfg.lxcfs.home = as_path(&value).ok_or_else(bad)?,
                    _ => return Err(bad()),
                }
            }
            cfg.config_file = Some(flags.config_file.clone());
        }

        if cfg.max_concurrent_downloads == 0 {
            return Err(ConfigError::NoDownloads);
        }
        cfg.network = net.bridge_config().map_err(ConfigError::Network)?;
        cfg.listen = listen
            .iter()
            .map(|s| ListenAddr::parse(s))
            .collect::<Result<_, _>>()?;
        Ok(cfg)
    }

    /// The listen addresses as given, for `/info`.
    pub fn listen_strings(&self) -> Vec<String> {
        self.listen.iter().map(ToString::to_string).collect()
    }
}

/// Reads the config file; `None` when the default file does not exist.
pub(crate) fn read_file(
    path: &Path,
    explicit: bool,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ConfigError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: shown,
                source,
            })
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path: shown.clone(),
            source,
        })?;
    match value {
        serde_json::Value::Object(map) => Ok(Some(map)),
        _ => Err(ConfigError::NotObject { path: shown }),
    }
}

fn as_path(v: &serde_json::Value) -> Option<PathBuf> {
    v.as_str().filter(|s| !s.is_empty()).map(PathBuf::from)
}

/// An array of strings (a single string is taken as a list of one).
fn as_list(v: &serde_json::Value) -> Option<Vec<String>> {
    match v {
        serde_json::Value::String(s) => Some(vec![s.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// The network flags as given, checked by [`NetFlags::bridge_config`].
struct NetFlags {
    bridge_name: String,
    bip: String,
    fixed_cidr: Option<String>,
    default_gateway: Option<String>,
    mtu: u32,
    ip_forward: bool,
    ip_masq: bool,
    iptables: bool,
    firewall_table: String,
}

impl NetFlags {
    fn bridge_config(self) -> Result<pouch_engine::BridgeConfig, String> {
        use pouch_engine::Ipv4Net;
        if self.bridge_name.is_empty() || self.bridge_name.len() > 15 {
            return Err(format!(
                "invalid --bridge-name {:?}: give a device name of 1 to 15 characters",
                self.bridge_name
            ));
        }
        let bip: Ipv4Net = self
            .bip
            .parse()
            .map_err(|e| format!("invalid --bip: {e}"))?;
        if bip.addr == bip.network() || bip.prefix > 30 {
            return Err(format!(
                "invalid --bip {bip}: give the bridge's own address with the prefix, like 192.168.5.1/24"
            ));
        }
        let fixed_cidr = match self.fixed_cidr {
            Some(f) => {
                let f: Ipv4Net = f
                    .parse()
                    .map_err(|e| format!("invalid --fixed-cidr: {e}"))?;
                if !bip.contains(f.network()) || f.prefix < bip.prefix {
                    return Err(format!(
                        "invalid --fixed-cidr {f}: it must lie inside --bip {bip}"
                    ));
                }
                Some(f)
            }
            None => None,
        };
        let default_gateway = match self.default_gateway {
            Some(g) => {
                let g: std::net::Ipv4Addr = g
                    .parse()
                    .map_err(|_| format!("invalid --default-gateway {g}: not an IPv4 address"))?;
                if !bip.contains(g) {
                    return Err(format!(
                        "invalid --default-gateway {g}: it must lie inside --bip {bip}"
                    ));
                }
                Some(g)
            }
            None => None,
        };
        let table_ok = !self.firewall_table.is_empty()
            && self.firewall_table.len() <= 32
            && self
                .firewall_table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !table_ok {
            return Err(format!(
                "invalid --firewall-table {:?}: use up to 32 letters, digits and _",
                self.firewall_table
            ));
        }
        if !(68..=65535).contains(&self.mtu) {
            return Err(format!("invalid --mtu {}: give 68 to 65535", self.mtu));
        }
        Ok(pouch_engine::BridgeConfig {
            name: self.bridge_name,
            bip,
            fixed_cidr,
            default_gateway,
            mtu: self.mtu,
            ip_forward: self.ip_forward,
            ip_masq: self.ip_masq,
            iptables: self.iptables,
            firewall_table: self.firewall_table,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn parse(args: &[&str]) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::from_args(std::iter::once("pouchd").chain(args.iter().copied()))
    }

    pub(crate) fn with_file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        (dir, path.display().to_string())
    }

    #[test]
    fn defaults() {
        let cfg = parse(&["--config-file", "/nonexistent/x.json"]);
        assert!(matches!(cfg, Err(ConfigError::Read { .. })), "{cfg:?}");
        // the default file may be absent: that is fine
        if !Path::new(DEFAULT_CONFIG_FILE).exists() {
            let cfg = parse(&[]).unwrap();
            assert_eq!(cfg.home_dir, PathBuf::from("/var/lib/pouch"));
            assert_eq!(cfg.exec_root, PathBuf::from("/run/pouch"));
            assert_eq!(
                cfg.listen,
                vec![ListenAddr::Unix("/var/run/pouchd.sock".into())]
            );
            assert_eq!(cfg.max_concurrent_downloads, 3);
            assert!(!cfg.debug);
            assert_eq!(cfg.pidfile, None);
            assert_eq!(cfg.config_file, None);
        }
    }

    #[test]
    fn flags() {
        let (_d, file) = with_file("{}");
        let cfg = parse(&[
            "--config-file",
            &file,
            "--home-dir",
            "/tmp/h",
            "-l",
            "unix:///tmp/a.sock",
            "--listen",
            "tcp://127.0.0.1:2375",
            "--registry-mirror",
            "http://127.0.0.1:5000",
            "--insecure-registry",
            "10.0.0.0/8",
            "--insecure-registry",
            "reg:5000",
            "--max-concurrent-downloads",
            "5",
            "-D",
            "--pidfile",
            "/tmp/p.pid",
        ])
        .unwrap();
        assert_eq!(cfg.home_dir, PathBuf::from("/tmp/h"));
        assert_eq!(
            cfg.listen,
            vec![
                ListenAddr::Unix("/tmp/a.sock".into()),
                ListenAddr::Tcp("127.0.0.1:2375".into())
            ]
        );
        assert_eq!(cfg.registry_mirrors, ["http://127.0.0.1:5000"]);
        assert_eq!(cfg.insecure_registries, ["10.0.0.0/8", "reg:5000"]);
        assert_eq!(cfg.max_concurrent_downloads, 5);
        assert!(cfg.debug);
        assert_eq!(cfg.pidfile, Some(PathBuf::from("/tmp/p.pid")));
        assert_eq!(cfg.config_file, Some(PathBuf::from(&file)));
        assert_eq!(
            cfg.listen_strings(),
            ["unix:///tmp/a.sock", "tcp://127.0.0.1:2375"]
        );
    }

    #[test]
    fn file_values_apply() {
        let (_d, file) = with_file(
            r#"{"home-dir": "/srv/pouch", "listen": ["unix:///tmp/x.sock"],
                "registry-mirror": ["http://m:5000"], "insecure-registry": ["m:5000"],
                "max-concurrent-downloads": 7, "debug": true, "pidfile": "/tmp/x.pid",
                "exec-root": "/tmp/exec"}"#,
        );
        let cfg = parse(&["--config-file", &file, "--max-concurrent-downloads", "3"]);
        // set on the command line (even to the default value) and in the file: refused
        let err = cfg.unwrap_err().to_string();
        assert_eq!(
            err,
            format!("config key \"max-concurrent-downloads\" is set both in {file} and as a flag: keep one")
        );
        let cfg = parse(&["--config-file", &file]).unwrap();
        assert_eq!(cfg.home_dir, PathBuf::from("/srv/pouch"));
        assert_eq!(cfg.exec_root, PathBuf::from("/tmp/exec"));
        assert_eq!(cfg.listen, vec![ListenAddr::Unix("/tmp/x.sock".into())]);
        assert_eq!(cfg.registry_mirrors, ["http://m:5000"]);
        assert_eq!(cfg.insecure_registries, ["m:5000"]);
        assert_eq!(cfg.max_concurrent_downloads, 7);
        assert!(cfg.debug);
        assert_eq!(cfg.pidfile, Some(PathBuf::from("/tmp/x.pid")));
    }

    #[test]
    fn conflicts_name_the_key() {
        let (_d, file) = with_file(r#"{"home-dir": "/srv/pouch"}"#);
        let err = parse(&["--config-file", &file, "--home-dir", "/x"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("config key \"home-dir\" is set both in {file} and as a flag: keep one")
        );
        let (_d, file) = with_file(r#"{"listen": ["unix:///a.sock"]}"#);
        let err = parse(&["--config-file", &file, "-l", "unix:///b.sock"]).unwrap_err();
        assert!(
            matches!(err, ConfigError::Both { ref key, .. } if key == "listen"),
            "{err}"
        );
        let (_d, file) = with_file(r#"{"debug": false}"#);
        let err = parse(&["--config-file", &file, "-D"]).unwrap_err();
        assert!(
            matches!(err, ConfigError::Both { ref key, .. } if key == "debug"),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_bad_keys() {
        let (_d, file) = with_file(r#"{"home_dir": "/srv"}"#);
        let err = parse(&["--config-file", &file]).unwrap_err().to_string();
        assert!(err.starts_with("unknown config key \"home_dir\""), "{err}");
        let (_d, file) = with_file(r#"{"config-file": "/x"}"#);
        let err = parse(&["--config-file", &file]).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
        let (_d, file) = with_file(r#"{"max-concurrent-downloads": 0}"#);
        let err = parse(&["--config-file", &file]).unwrap_err().to_string();
        assert!(err.contains("must be a positive integer"), "{err}");
        let (_d, file) = with_file(r#"{"listen": [1]}"#);
        assert!(matches!(
            parse(&["--config-file", &file]),
            Err(ConfigError::BadValue { .. })
        ));
        let (_d, file) = with_file(r#"["home-dir"]"#);
        assert!(matches!(
            parse(&["--config-file", &file]),
            Err(ConfigError::NotObject { .. })
        ));
        let (_d, file) = with_file("{not json");
        assert!(matches!(
            parse(&["--config-file", &file]),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn command_line_keys_are_recorded() {
        let (_d, file) = with_file("{}");
        let cfg = parse(&[
            "--config-file",
            &file,
            "--label",
            "a=b",
            "-D",
            "--registry-mirror",
            "http://m:5000",
        ])
        .unwrap();
        assert_eq!(cfg.config_path, PathBuf::from(&file));
        assert_eq!(
            cfg.command_line_keys,
            ["registry-mirror", "debug", "label"],
            "in FILE_KEYS order; config-file itself is not a file key"
        );
        // the default file is named even when it was not read
        let cfg = DaemonConfig::from_args(["pouchd", "--label", "x=1"]);
        if let Ok(cfg) = cfg {
            assert_eq!(cfg.config_path, PathBuf::from(DEFAULT_CONFIG_FILE));
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            ListenAddr::parse("tcp://:2375").unwrap(),
            ListenAddr::Tcp("0.0.0.0:2375".into())
        );
        assert_eq!(
            ListenAddr::parse("/run/p.sock").unwrap(),
            ListenAddr::Unix("/run/p.sock".into())
        );
        assert!(ListenAddr::parse("tcp://localhost").is_err());
        assert!(ListenAddr::parse("http://x:1").is_err());
        assert!(ListenAddr::parse("unix://").is_err());
        let (_d, file) = with_file("{}");
        assert!(matches!(
            parse(&["--config-file", &file, "-l", "fd://"]),
            Err(ConfigError::Listen { .. })
        ));
        assert!(matches!(
            parse(&["--config-file", &file, "--max-concurrent-downloads", "0"]),
            Err(ConfigError::NoDownloads)
        ));
    }
}
