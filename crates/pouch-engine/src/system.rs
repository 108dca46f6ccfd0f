//! System answers of the engine: `/version`, `/info` (real host figures) and `/system/df`.

use std::path::Path;

use pouch_api::system::{ComponentVersion, Info, Platform, SystemDf, Version};
use pouch_api::{ApiError, API_VERSION, MIN_API_VERSION, POUCH_VERSION};
use serde_json::json;

use crate::{host, Engine};

/// The docker.io index, as Docker names it in `/info`.
const INDEX_SERVER: &str = "https://index.docker.io/v1/";
/// The commit pouchd was built from, when the build sets it.
const GIT_COMMIT: &str = match option_env!("POUCH_GIT_COMMIT") {
    Some(c) => c,
    None => "",
};

impl Engine {
    /// `GET /version`.
    pub fn version(&self) -> Version {
        let uname = pouch_sys::uname();
        let arch = host::goarch(&uname.machine).to_string();
        let details = json!({
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": uname.release,
            "Experimental": "false",
            "GitCommit": GIT_COMMIT,
            "GoVersion": "",
            "BuildTime": "",
        });
        Version {
            platform: Platform {
                name: "Pouch Engine".to_string(),
            },
            components: vec![ComponentVersion {
                name: "Engine".to_string(),
                version: POUCH_VERSION.to_string(),
                details: Some(details),
            }],
            version: POUCH_VERSION.to_string(),
            api_version: API_VERSION.to_string(),
            min_api_version: MIN_API_VERSION.to_string(),
            git_commit: GIT_COMMIT.to_string(),
            go_version: String::new(),
            os: "linux".to_string(),
            arch,
            kernel_version: uname.release,
            experimental: false,
            build_time: String::new(),
        }
    }

    /// `GET /info`, with figures read from the host.
    pub fn info(&self) -> Info {
        let uname = pouch_sys::uname();
        let os = host::os_release();
        let cgroup_version = host::cgroup_version();
        let cg = host::cgroup_features(Path::new("/sys/fs/cgroup"), cgroup_version);
        let home = self.config.home_dir.display().to_string();
        let (total, running, paused, stopped) = self.container_counts();
        Info {
            id: self.id.clone(),
            containers: total as i64,
            containers_running: running as i64,
            containers_paused: paused as i64,
            containers_stopped: stopped as i64,
            images: self.images.count() as i64,
            driver: "overlay2".to_string(),
            driver_status: vec![
                [
                    "Backing Filesystem".to_string(),
                    host::backing_filesystem(&self.config.home_dir),
                ],
                [
                    "Disk quota".to_string(),
                    self.quota
                        .as_ref()
                        .map_or("none", |q| q.backend())
                        .to_string(),
                ],
            ],
            plugins: json!({
                "Volume": ["local", "tmpfs"],
                "Network": ["bridge", "host", "macvlan", "null"],
                "Authorization": null,
                "Log": ["json-file", "none"],
            }),
            memory_limit: cg.memory_limit,
            swap_limit: cg.swap_limit,
            cpu_cfs_period: cg.cpu_cfs_period,
            cpu_cfs_quota: cg.cpu_cfs_quota,
            cpu_shares: cg.cpu_shares,
            cpu_set: cg.cpu_set,
            pids_limit: cg.pids_limit,
            ipv4_forwarding: host::ipv4_forwarding(),
            debug: self.debug(),
            nfd: host::open_fds(),
            n_goroutines: host::threads(),
            system_time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
            logging_driver: "json-file".to_string(),
            cgroup_driver: "cgroupfs".to_string(),
            cgroup_version: cgroup_version.to_string(),
            n_events_listener: 0,
            kernel_version: uname.release,
            operating_system: os.pretty_name,
            os_version: os.version_id,
            os_type: "linux".to_string(),
            architecture: uname.machine,
            ncpu: host::ncpu(),
            mem_total: host::mem_total(),
            index_server_address: INDEX_SERVER.to_string(),
            registry_config: self.registry_info(),
            docker_root_dir: home.clone(),
            pouch_root_dir: home,
            http_proxy: host::proxy_env("http_proxy"),
            https_proxy: host::proxy_env("https_proxy"),
            no_proxy: host::proxy_env("no_proxy"),
            name: uname.nodename,
            labels: self.daemon_labels(),
            experimental_build: false,
            server_version: POUCH_VERSION.to_string(),
            runtimes: serde_json::Value::Object(
                self.config
                    .runtime
                    .runtimes
                    .iter()
                    .map(|(k, v)| (k.clone(), json!({ "path": v.display().to_string() })))
                    .collect(),
            ),
            default_runtime: self.config.runtime.default_runtime.clone(),
            swarm: json!({
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": false,
                "Error": "",
                "RemoteManagers": null,
            }),
            live_restore_enabled: false,
            isolation: String::new(),
            init_binary: String::new(),
            security_options: Vec::new(),
            warnings: self
                .network
                .forward_drops()
                .into_iter()
                .map(|c| {
                    format!(
                        "WARNING: the firewall chain {c} has policy drop: containers on pouch bridges cannot be forwarded through it"
                    )
                })
                .collect(),
            listen_addresses: self.config.listen_addresses.clone(),
        }
    }

    /// Docker's `RegistryConfig` object: docker.io with its mirrors, every insecure
    /// registry as an index that is not secure, and the insecure CIDRs (loopback always).
    fn registry_info(&self) -> serde_json::Value {
        let reg = self.registry_config();
        let mirrors: Vec<String> = reg
            .mirrors
            .iter()
            .map(|m| format!("{}/", m.trim_end_matches('/')))
            .collect();
        let mut cidrs = vec!["::1/128".to_string(), "127.0.0.0/8".to_string()];
        let mut indexes = serde_json::Map::new();
        indexes.insert(
            "docker.io".to_string(),
            json!({"Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true}),
        );
        for entry in &reg.insecure {
            if entry.contains('/') {
                if !cidrs.contains(entry) {
                    cidrs.push(entry.clone());
                }
            } else {
                indexes.insert(
                    entry.clone(),
                    json!({"Name": entry, "Mirrors": [], "Secure": false, "Official": false}),
                );
            }
        }
        json!({
            "AllowNondistributableArtifactsCIDRs": null,
            "AllowNondistributableArtifactsHostnames": null,
            "InsecureRegistryCIDRs": cidrs,
            "IndexConfigs": indexes,
            "Mirrors": mirrors,
        })
    }

    /// `GET /system/df`: images with their sizes and the total size of all layers, volumes
    /// with their `UsageData`.
    pub fn disk_usage(&self) -> Result<SystemDf, ApiError> {
        let (layers_size, mut images) = self.images.disk_usage()?;
        let containers = self.list_containers(&crate::ListOptions {
            all: true,
            limit: None,
            size: true,
            filters: Default::default(),
        })?;
        for img in &mut images {
            img.containers = containers.iter().filter(|c| c.image_id == img.id).count() as i64;
        }
        let containers = containers
            .iter()
            .map(|c| serde_json::to_value(c).map_err(|e| ApiError::internal(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SystemDf {
            layers_size,
            images,
            containers,
            volumes: self.volumes_disk_usage()?,
            build_cache: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, EngineConfig, RegistryConfig};

    fn engine(dir: &std::path::Path) -> std::sync::Arc<Engine> {
        Engine::open(EngineConfig {
            network: Default::default(),
            labels: Vec::new(),
            lxcfs: Default::default(),
            home_dir: dir.join("home"),
            exec_root: dir.join("exec"),
            registry: RegistryConfig {
                mirrors: vec!["http://127.0.0.1:5000".into()],
                insecure: vec!["10.0.0.0/8".into(), "reg.local:5000".into()],
            },
            max_concurrent_downloads: 3,
            debug: true,
            listen_addresses: vec!["unix:///run/x.sock".into()],
            runtime: Default::default(),
        })
        .unwrap()
    }

    fn disk_quota_status(e: &Engine) -> Option<String> {
        e.info()
            .driver_status
            .iter()
            .find(|s| s[0] == "Disk quota")
            .map(|s| s[1].clone())
    }

    #[test]
    fn info_reports_the_disk_quota_back_end() {
        let dir = tempfile::tempdir().unwrap();
        let expected = match crate::host::backing_filesystem(dir.path()).as_str() {
            "btrfs" => "btrfs",
            _ => "none",
        };
        assert_eq!(
            disk_quota_status(&engine(dir.path())).as_deref(),
            Some(expected),
            "a tmp dir on ext4 without prjquota has none"
        );
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED the btrfs half of info_reports_the_disk_quota_back_end: needs root");
            return;
        }
        let fs = crate::test_btrfs::LoopBtrfs::new(200);
        let mnt = fs.mnt().to_path_buf();
        assert_eq!(disk_quota_status(&engine(&mnt)).as_deref(), Some("btrfs"));
    }

    #[test]
    fn a_bad_mirror_refuses_to_open_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Engine::open(EngineConfig {
            network: Default::default(),
            labels: Vec::new(),
            lxcfs: Default::default(),
            home_dir: dir.path().join("home"),
            exec_root: dir.path().join("exec"),
            registry: RegistryConfig {
                mirrors: vec!["ftp://mirror.local".into()],
                insecure: vec![],
            },
            max_concurrent_downloads: 3,
            debug: false,
            listen_addresses: vec![],
            runtime: Default::default(),
        })
        .err()
        .expect("a ftp:// mirror must be refused");
        assert!(err.to_string().contains("ftp://mirror.local"), "{err}");
    }

    #[test]
    fn version_names_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let v = engine(dir.path()).version();
        assert_eq!(v.api_version, "1.44");
        assert_eq!(v.min_api_version, "1.24");
        assert_eq!(v.platform.name, "Pouch Engine");
        assert_eq!(v.components[0].name, "Engine");
        assert_eq!(v.os, "linux");
        assert_eq!(v.arch, crate::host::goarch(&pouch_sys::uname().machine));
        assert_eq!(v.kernel_version, pouch_sys::uname().release);
    }

    #[test]
    fn info_has_host_figures_and_registry_config() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let i = e.info();
        assert_eq!(i.id, e.id());
        assert!(i.ncpu >= 1 && i.mem_total > 0);
        assert_eq!(i.images, 0);
        assert!(i.debug);
        assert_eq!(
            i.docker_root_dir,
            dir.path().join("home").display().to_string()
        );
        assert_eq!(i.listen_addresses, ["unix:///run/x.sock"]);
        assert!(chrono::DateTime::parse_from_rfc3339(&i.system_time).is_ok());
        let r = &i.registry_config;
        assert_eq!(r["Mirrors"][0], "http://127.0.0.1:5000/");
        assert_eq!(
            r["IndexConfigs"]["docker.io"]["Mirrors"][0],
            "http://127.0.0.1:5000/"
        );
        assert_eq!(r["IndexConfigs"]["reg.local:5000"]["Secure"], false);
        let cidrs = r["InsecureRegistryCIDRs"].as_array().unwrap();
        assert!(cidrs.iter().any(|c| c == "10.0.0.0/8"));
        assert!(cidrs.iter().any(|c| c == "127.0.0.0/8"));
        // reopening keeps the id
        drop(e);
        assert_eq!(engine(dir.path()).info().id, i.id);
    }
}
