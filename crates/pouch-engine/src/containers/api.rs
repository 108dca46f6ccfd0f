//! The container operations of `Engine`, as the HTTP router calls them (see the contract in
//! docs/containers-contract.md). Each delegates to the manager or a helper module.

use std::io::{Read, Write};

use bytes::Bytes;
use pouch_api::container::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspect, ContainerPruneResponse,
    ContainerStats, ContainerSummary, ContainerTopResponse, ContainerUpdate,
    ContainerUpdateResponse, EventMessage, ExecConfig, ExecInspect, ExecStartConfig, PathStat,
};
use pouch_api::{ApiError, Filters};
use tokio::sync::mpsc;

use super::record::Status;
use super::{
    archive, logs, stats, AttachOptions, AttachSession, EventsOptions, ListOptions, LogsOptions,
    WaitHandle,
};
use crate::Engine;

/// A log stream: chunks already framed (multiplexed unless `tty`).
pub struct LogStream {
    pub tty: bool,
    pub rx: mpsc::Receiver<Bytes>,
}

impl Engine {
    pub async fn create_container(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> Result<ContainerCreateResponse, ApiError> {
        super::lxcfs::check_create(&self.config.lxcfs, body.host_config.as_ref())?;
        self.containers.create(name, body).await
    }

    pub async fn start_container(&self, name: &str) -> Result<(), ApiError> {
        self.containers.start(name).await
    }

    pub async fn stop_container(
        &self,
        name: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        self.containers.stop(name, signal, timeout).await
    }

    pub async fn restart_container(
        &self,
        name: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), ApiError> {
        self.containers.restart(name, signal, timeout).await
    }

    pub async fn kill_container(&self, name: &str, signal: Option<String>) -> Result<(), ApiError> {
        self.containers.kill(name, signal).await
    }

    pub async fn pause_container(&self, name: &str) -> Result<(), ApiError> {
        self.containers.pause(name, true).await
    }

    pub async fn unpause_container(&self, name: &str) -> Result<(), ApiError> {
        self.containers.pause(name, false).await
    }

    pub async fn remove_container(
        &self,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        self.containers.remove(name, force, volumes).await
    }

    pub fn list_containers(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>, ApiError> {
        self.containers.list(opts)
    }

    pub fn inspect_container(&self, name: &str, size: bool) -> Result<ContainerInspect, ApiError> {
        self.containers.inspect(name, size)
    }

    pub fn rename_container(&self, name: &str, new_name: &str) -> Result<(), ApiError> {
        self.containers.rename(name, new_name)
    }

    pub async fn update_container(
        &self,
        name: &str,
        update: ContainerUpdate,
    ) -> Result<ContainerUpdateResponse, ApiError> {
        self.containers.update(name, update).await
    }

    /// Pouch's image hot upgrade (`POST /containers/{id}/upgrade`): see docs/upgrade.md.
    pub async fn upgrade_container(
        &self,
        name: &str,
        config: pouch_api::container::ContainerUpgradeConfig,
    ) -> Result<(), ApiError> {
        self.containers.upgrade(name, config).await
    }

    /// `POST /containers/{id}/remount-lxcfs`: fresh lxcfs binds in a running container (see
    /// docs/lxcfs.md).
    pub async fn remount_lxcfs(&self, name: &str) -> Result<(), ApiError> {
        self.containers.remount_lxcfs(name).await
    }

    /// Validates and registers a wait; the caller flushes its headers, then awaits it.
    pub async fn wait_container(
        &self,
        name: &str,
        condition: &str,
    ) -> Result<WaitHandle, ApiError> {
        self.containers.wait(name, condition)
    }

    pub async fn attach_container(
        &self,
        name: &str,
        opts: AttachOptions,
    ) -> Result<AttachSession, ApiError> {
        self.containers.attach(name, opts)
    }

    pub async fn resize_container(
        &self,
        name: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ApiError> {
        self.containers.resize(name, height, width).await
    }

    /// `GET /containers/{id}/logs`; a follow ends when the container stops.
    pub async fn container_logs(
        &self,
        name: &str,
        opts: LogsOptions,
    ) -> Result<LogStream, ApiError> {
        opts.check()?;
        let c = self.containers.get(name)?;
        let rec = c.record();
        if rec.host_config.log_config.kind != "json-file" {
            return Err(ApiError::invalid(format!(
                "configured logging driver does not support reading: {} (container {name})",
                rec.host_config.log_config.kind
            )));
        }
        let mut watch = c.watch();
        let exits = watch.borrow().exits;
        let stop = async move {
            let _ = watch
                .wait_for(|o| {
                    o.removed
                        || o.exits > exits
                        || !(o.status.is_alive() || o.status == Status::Restarting)
                })
                .await;
        };
        let rx = logs::read_logs(
            self.containers.paths.log_path(&c.id),
            rec.config.tty,
            opts,
            stop,
        );
        Ok(LogStream {
            tty: rec.config.tty,
            rx,
        })
    }

    pub async fn create_exec(&self, name: &str, config: ExecConfig) -> Result<String, ApiError> {
        self.containers.create_exec(name, config)
    }

    pub async fn start_exec(
        &self,
        id: &str,
        start: ExecStartConfig,
    ) -> Result<Option<AttachSession>, ApiError> {
        self.containers.start_exec(id, start).await
    }

    pub fn inspect_exec(&self, id: &str) -> Result<ExecInspect, ApiError> {
        self.containers.inspect_exec(id)
    }

    pub async fn resize_exec(&self, id: &str, height: u16, width: u16) -> Result<(), ApiError> {
        self.containers.resize_exec(id, height, width).await
    }

    pub async fn top_container(
        &self,
        name: &str,
        ps_args: Option<&str>,
    ) -> Result<ContainerTopResponse, ApiError> {
        self.containers.top(name, ps_args).await
    }

    /// `GET /containers/{id}/stats`.
    pub async fn container_stats(
        &self,
        name: &str,
        stream: bool,
        one_shot: bool,
    ) -> Result<mpsc::Receiver<ContainerStats>, ApiError> {
        let c = self.containers.get(name)?;
        let rec = c.record();
        let cgroups = super::start::cgroups_path(&rec.host_config.resources.cgroup_parent, &c.id);
        let handle = c.clone();
        Ok(stats::stats_stream(
            c.id.clone(),
            rec.name.clone(),
            cgroups,
            stream,
            one_shot,
            move || handle.status().is_alive(),
        ))
    }

    /// `GET /events`.
    pub fn events(&self, opts: EventsOptions) -> Result<mpsc::Receiver<EventMessage>, ApiError> {
        Ok(self.containers.events.subscribe(opts)?)
    }

    /// `HEAD /containers/{id}/archive` (blocking).
    pub fn stat_container_path(&self, name: &str, path: &str) -> Result<PathStat, ApiError> {
        let c = self.containers.get(name)?;
        self.containers.ensure_mounted(&c)?;
        let (root, path, mounts) = self.archive_root(&c, path);
        Ok(archive::stat_path_mounted(&root, &mounts, &path)?)
    }

    /// `GET /containers/{id}/archive` (blocking): returns the stat after writing the tar.
    pub fn get_container_archive(
        &self,
        name: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<PathStat, ApiError> {
        let c = self.containers.get(name)?;
        self.containers.ensure_mounted(&c)?;
        let (root, inner, mounts) = self.archive_root(&c, path);
        let stat = archive::get_archive_mounted(&root, &mounts, &inner, out)?;
        self.containers
            .event(&c, "archive-path", &[("path", path.to_string())]);
        Ok(stat)
    }

    /// Where a container path is read from: the bundle for the files pouchd bind-mounts
    /// (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`), else the root filesystem with
    /// the container's mounts (volumes, binds) over it.
    fn archive_root(
        &self,
        c: &super::Container,
        path: &str,
    ) -> (
        std::path::PathBuf,
        String,
        Vec<pouch_api::container::MountPoint>,
    ) {
        let clean = path.trim_end_matches('/');
        for f in ["hostname", "hosts", "resolv.conf"] {
            if clean == format!("/etc/{f}") {
                return (
                    self.containers.paths.bundle(&c.id),
                    format!("/{f}"),
                    Vec::new(),
                );
            }
        }
        let mounts = c.record().mounts;
        (
            self.containers.paths.rootfs(&c.id),
            path.to_string(),
            mounts,
        )
    }

    /// `PUT /containers/{id}/archive` (blocking).
    pub fn put_container_archive(
        &self,
        name: &str,
        path: &str,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
        input: &mut dyn Read,
    ) -> Result<(), ApiError> {
        let c = self.containers.get(name)?;
        let mounts = c.record().mounts;
        let into_mount = mounts.iter().any(|m| {
            let dest = m.destination.trim_end_matches('/');
            let p = path.trim_end_matches('/');
            p == dest || p.starts_with(&format!("{dest}/"))
        });
        if c.record().host_config.readonly_rootfs && !into_mount {
            return Err(ApiError::invalid(format!(
                "container rootfs is marked read-only: cannot copy into container {name}"
            )));
        }
        self.containers.ensure_mounted(&c)?;
        let rootfs = self.containers.paths.rootfs(&c.id);
        // copyUIDGID: the files get the container user's uid and gid.
        let owner = if copy_uid_gid {
            let user = c.record().config.user;
            let (uid, gid, _) = pouch_runtime::spec::resolve_user(&rootfs, &user, &[])
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            Some((uid, gid))
        } else {
            None
        };
        let opts = archive::ExtractOptions {
            no_overwrite_dir_non_dir,
            owner,
        };
        archive::extract_mounted(&rootfs, &mounts, path, &opts, input)?;
        self.containers
            .event(&c, "extract-to-dir", &[("path", path.to_string())]);
        Ok(())
    }

    /// `GET /containers/{id}/export` (blocking).
    pub fn export_container(&self, name: &str, out: &mut dyn Write) -> Result<(), ApiError> {
        let c = self.containers.get(name)?;
        self.containers.ensure_mounted(&c)?;
        archive::export(&self.containers.paths.rootfs(&c.id), out)?;
        self.containers.event(&c, "export", &[]);
        Ok(())
    }

    pub async fn prune_containers(
        &self,
        filters: &Filters,
    ) -> Result<ContainerPruneResponse, ApiError> {
        self.containers.prune(filters).await
    }

    /// Reconnects to the containers that kept running while the daemon was down, and
    /// starts the ones whose restart policy asks for it, then follows lxcfs (when enabled).
    /// Call once after `open`.
    pub async fn restore_containers(&self) {
        self.containers.restore().await;
        self.containers.watch_lxcfs();
    }

    /// Number of containers by state, for `/info`: (total, running, paused, stopped).
    pub fn container_counts(&self) -> (usize, usize, usize, usize) {
        let all = self.containers.all();
        let running = all.iter().filter(|c| c.status() == Status::Running).count();
        let paused = all.iter().filter(|c| c.status() == Status::Paused).count();
        (all.len(), running, paused, all.len() - running - paused)
    }
}
