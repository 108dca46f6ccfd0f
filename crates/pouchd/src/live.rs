//! pouchd's side of live daemon updates (`POST /daemon/update`): the log filter, behind a
//! reload handle so `Debug` switches it while pouchd runs, and the hooks the engine calls
//! around an update ([`LiveUpdates`]): persist the change into the config file (through
//! `config::ConfigFile`, which owns the format), then switch the log filter.
//!
//! `POUCHD_LOG`, when set to a valid filter, is the log filter whatever the debug flag says,
//! at start as after an update (the flag still changes what `/info` reports).

use std::io::IsTerminal;

use pouch_api::ApiError;
use pouch_engine::{DaemonChange, DaemonHooks};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::ConfigError;
use crate::config_file::ConfigFile;

/// The filter of `--debug`: debug for pouch's own crates, info for the rest.
const DEBUG_FILTER: &str = "info,pouchd=debug,pouch_engine=debug,pouch_image=debug,pouch_store=debug,pouch_snapshot=debug,pouch_network=debug,pouch_volume=debug,pouch_quota=debug";
/// The filter without `--debug`.
const INFO_FILTER: &str = "info";

/// The environment variable that overrides the log filter.
const LOG_ENV: &str = "POUCHD_LOG";

/// Switches the daemon's log filter.
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `POUCHD_LOG` chose the filter: the debug flag leaves it alone.
    from_env: bool,
}

impl LogControl {
    /// The layer to install and its control: the filter `POUCHD_LOG` names, else the one of
    /// `debug`.
    fn new(debug: bool) -> (reload::Layer<EnvFilter, Registry>, LogControl) {
        let env = EnvFilter::try_from_env(LOG_ENV).ok();
        let from_env = env.is_some();
        let filter = env.unwrap_or_else(|| filter_for(debug));
        let (layer, handle) = reload::Layer::new(filter);
        (layer, LogControl { handle, from_env })
    }

    /// Debug logging on or off (unless `POUCHD_LOG` holds the filter).
    pub fn set_debug(&self, on: bool) {
        if self.from_env {
            tracing::info!(
                debug = on,
                "the log filter stays as {LOG_ENV} sets it; unset {LOG_ENV} for the debug flag to switch it"
            );
            return;
        }
        match self.handle.reload(filter_for(on)) {
            Ok(()) => tracing::info!(debug = on, "log filter switched"),
            Err(e) => tracing::warn!(debug = on, "cannot switch the log filter: {e}"),
        }
    }

    /// The filter in use, as directives.
    #[cfg(test)]
    fn current(&self) -> String {
        self.handle
            .with_current(|f| f.to_string())
            .unwrap_or_default()
    }
}

fn filter_for(debug: bool) -> EnvFilter {
    EnvFilter::new(if debug { DEBUG_FILTER } else { INFO_FILTER })
}

/// Installs the global subscriber: the reloadable filter over text lines on stderr.
pub fn init_logging(debug: bool) -> LogControl {
    let (filter, control) = LogControl::new(debug);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    control
}

/// The engine's daemon update hooks of pouchd.
pub struct LiveUpdates {
    file: ConfigFile,
    log: LogControl,
}

impl LiveUpdates {
    pub fn new(file: ConfigFile, log: LogControl) -> LiveUpdates {
        LiveUpdates { file, log }
    }
}

impl DaemonHooks for LiveUpdates {
    fn persist(&self, change: &DaemonChange) -> Result<(), ApiError> {
        let mut values = Vec::new();
        if let Some(labels) = &change.labels {
            values.push(("label", json!(labels)));
        }
        if let Some(mirrors) = &change.registry_mirrors {
            values.push(("registry-mirror", json!(mirrors)));
        }
        if let Some(insecure) = &change.insecure_registries {
            values.push(("insecure-registry", json!(insecure)));
        }
        if let Some(debug) = change.debug {
            values.push(("debug", json!(debug)));
        }
        self.file.set(&values).map_err(|e| match e {
            ConfigError::FixedByFlag { .. } => ApiError::invalid(e.to_string()),
            _ => ApiError::internal(format!("the daemon update was not applied: {e}")),
        })?;
        tracing::info!(file = %self.file.path().display(), "daemon update written to the config file");
        Ok(())
    }

    fn set_debug(&self, debug: bool) {
        self.log.set_debug(debug);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A log control over a filter layer that lives as long as the returned subscriber
    /// (installed nowhere: the test reads the filter back).
    /// Its filter is the one of `debug`, whatever the test's environment holds.
    pub(crate) fn detached_log(debug: bool) -> (impl tracing::Subscriber, LogControl) {
        let (layer, handle) = reload::Layer::new(filter_for(debug));
        (
            tracing_subscriber::registry().with(layer),
            LogControl {
                handle,
                from_env: false,
            },
        )
    }

    #[test]
    fn debug_switches_the_filter_unless_pouchd_log_holds_it() {
        let (_subscriber, log) = detached_log(false);
        assert_eq!(log.current(), INFO_FILTER);
        log.set_debug(true);
        assert!(
            log.current().contains("pouch_image=debug"),
            "{}",
            log.current()
        );
        log.set_debug(false);
        assert_eq!(log.current(), INFO_FILTER);

        let (layer, handle) = reload::Layer::new(EnvFilter::new("pouchd=trace"));
        let _subscriber = tracing_subscriber::registry().with(layer);
        let pinned = LogControl {
            handle,
            from_env: true,
        };
        pinned.set_debug(true);
        assert_eq!(pinned.current(), "pouchd=trace");
    }
}
