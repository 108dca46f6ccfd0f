//! Where pouchd's time goes on the run path, from the timestamps of its debug log.

use super::*;

/// One line of pouchd's debug log that the phase breakdown uses.
pub(super) struct LogLine {
    at: f64,
    text: String,
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp as tracing prints it
/// (`2026-11-27T22:58:40.302462Z`).
pub(super) fn parse_utc(ts: &str) -> Option<f64> {
    let ts = ts.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let s = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// A `Duration` as Debug prints it (`69.8ms`, `43.3µs`, `1.2s`), in seconds.
pub(super) fn parse_elapsed(v: &str) -> Option<f64> {
    for (suffix, scale) in [
        ("ms", 1e-3),
        ("µs", 1e-6),
        ("us", 1e-6),
        ("ns", 1e-9),
        ("s", 1.0),
    ] {
        if let Some(n) = v.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * scale);
        }
    }
    None
}

pub(super) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    line[start..].split([' ', '}']).next()
}

/// The phases of one `pouch run --rm` in milliseconds, from the client's start and end
/// (epoch seconds) and the debug lines pouchd logged meanwhile.
pub(super) fn phases(t0: f64, t1: f64, log: &[LogLine]) -> Option<Vec<(&'static str, f64)>> {
    let answered = |path_end: &str| {
        log.iter().find_map(|l| {
            let path = field(&l.text, "path")?;
            (l.text.contains("answered") && path.ends_with(path_end))
                .then_some(())
                .and_then(|_| parse_elapsed(field(&l.text, "elapsed")?))
                .map(|e| (l.at - e, l.at))
        })
    };
    let (create_begin, create_end) = answered("/containers/create")?;
    let (start_begin, start_end) = answered("/start")?;
    let rc = log.iter().find(|l| l.text.contains("runtime create"))?;
    let rc_ms: f64 = field(&rc.text, "ms")?.parse().ok()?;
    let shim_begin = rc.at - rc_ms / 1000.0;
    let spec = log
        .iter()
        .find(|l| l.text.contains("generated the OCI spec"))
        .map(|l| l.at);
    let ms = |a: f64, b: f64| (b - a) * 1000.0;
    let mut p = vec![
        ("CLI start -> create request", ms(t0, create_begin)),
        ("POST /containers/create", ms(create_begin, create_end)),
        (
            "attach + wait requests (client round trips)",
            ms(create_end, start_begin),
        ),
    ];
    match spec {
        Some(s) if s >= start_begin && s <= shim_begin => {
            p.push(("start: mount check + OCI spec", ms(start_begin, s)));
            p.push((
                "start: config.json, state dir, leftover runtime delete",
                ms(s, shim_begin),
            ));
        }
        _ => p.push((
            "start: spec, config.json, leftover runtime delete",
            ms(start_begin, shim_begin),
        )),
    }
    p.push(("start: shim spawn + runc create", rc_ms));
    p.push((
        "start: runc start + state commit + event",
        ms(rc.at, start_end),
    ));
    p.push((
        "exit, runc delete, removal, wait answer, CLI exit",
        ms(start_end, t1),
    ));
    p.push(("total (client wall time)", ms(t0, t1)));
    Some(p)
}

pub(super) fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs `pouch run --rm` PHASE_RUNS times on a pouchd started with `--debug` and prints the
/// median of each phase.
pub(super) fn pouch_phases(bins: &Binaries, tar: &Path) -> Result<()> {
    let d = Daemon::start(
        bins,
        DaemonOptions {
            debug: true,
            env: vec![(
                "POUCHD_LOG".into(),
                "info,pouchd=debug,pouch_engine=debug,pouch_runtime=debug".into(),
            )],
            ..DaemonOptions::default()
        },
    )?;
    let e = pouch_engine(bins, &d);
    e.import(tar)?;
    let args = e.run_args(&["--rm", IMAGE, "true"]);
    if !e.run(&args).success() {
        bail!(
            "pouch run --rm on the debug daemon failed:\n{}",
            tail(&d.log(), 20)
        );
    }
    let mut all: Vec<Vec<(&'static str, f64)>> = Vec::new();
    for _ in 0..PHASE_RUNS {
        let offset = d.log().len();
        let t0 = epoch_now();
        let out = e.run(&args);
        let t1 = epoch_now();
        if !out.success() {
            bail!("pouch run --rm on the debug daemon failed: {out}");
        }
        let log = d.log();
        let lines: Vec<LogLine> = log[offset.min(log.len())..]
            .lines()
            .filter_map(|l| {
                let at = parse_utc(l.split_whitespace().next()?)?;
                Some(LogLine {
                    at,
                    text: l.to_string(),
                })
            })
            .collect();
        match phases(t0, t1, &lines) {
            Some(p) => all.push(p),
            None => bail!(
                "pouchd's debug log lacks the run's request lines:\n{}",
                lines
                    .iter()
                    .map(|l| l.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
    println!(
        "  where the time goes (pouchd --debug log + client clock, median of {PHASE_RUNS} runs of \
         `pouch run --rm {IMAGE} true`):"
    );
    for (i, (label, _)) in all[0].iter().enumerate() {
        let v: Vec<f64> = all
            .iter()
            .filter_map(|p| p.get(i).filter(|(l, _)| l == label).map(|(_, v)| *v))
            .collect();
        println!("    {:>7.1} ms  {label}", median(&v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracing_timestamps_and_durations() {
        assert_eq!(parse_utc("1970-01-02T00:00:01.5Z"), Some(86_401.5));
        let t = parse_utc("2026-11-27T22:58:40.302462Z").unwrap();
        let date = civil_date(t);
        assert_eq!(date, (2026, 11, 27));
        assert_eq!(parse_elapsed("69.5ms"), Some(0.0695));
        assert!((parse_elapsed("43.344µs").unwrap() - 43.344e-6).abs() < 1e-12);
        assert_eq!(parse_elapsed("1.25s"), Some(1.25));
        assert_eq!(parse_elapsed("fast"), None);
    }

    /// Civil date of epoch seconds, counted the slow way, to check `parse_utc`.
    fn civil_date(t: f64) -> (i64, i64, i64) {
        let mut days = (t / 86_400.0).floor() as i64;
        let mut y = 1970;
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        while days >= if leap(y) { 366 } else { 365 } {
            days -= if leap(y) { 366 } else { 365 };
            y += 1;
        }
        let months = [
            31,
            if leap(y) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut m = 0;
        while days >= months[m] {
            days -= months[m];
            m += 1;
        }
        (y, m as i64 + 1, days + 1)
    }

    #[test]
    fn phases_from_a_debug_log() {
        let raw = "\
2026-11-27T22:58:40.102893Z DEBUG pouch_engine::containers::create: container created id=4ef9 name=b
2026-11-27T22:58:40.102965Z DEBUG request{method=POST path=/v1.44/containers/create}: pouchd::router::version: answered status=201 elapsed=1.226885ms
2026-11-27T22:58:40.103382Z DEBUG request{method=POST path=/v1.44/containers/4ef9/attach}: pouchd::router::version: answered status=101 elapsed=39.629µs
2026-11-27T22:58:40.103602Z DEBUG request{method=POST path=/v1.44/containers/4ef9/wait}: pouchd::router::version: answered status=200 elapsed=19.589µs
2026-11-27T22:58:40.152395Z DEBUG request{method=POST path=/v1.44/containers/4ef9/start}: pouch_engine::containers::start: runtime create id=4ef9 ms=43
2026-11-27T22:58:40.159864Z DEBUG request{method=POST path=/v1.44/containers/4ef9/start}: pouchd::router::version: answered status=204 elapsed=56.093125ms";
        let log: Vec<LogLine> = raw
            .lines()
            .map(|l| LogLine {
                at: parse_utc(l.split_whitespace().next().unwrap()).unwrap(),
                text: l.to_string(),
            })
            .collect();
        let t0 = parse_utc("2026-11-27T22:58:40.098000Z").unwrap();
        let t1 = parse_utc("2026-11-27T22:58:40.190000Z").unwrap();
        let p = phases(t0, t1, &log).expect("phases");
        let get = |label: &str| p.iter().find(|(l, _)| *l == label).unwrap().1;
        assert!((get("POST /containers/create") - 1.226885).abs() < 0.01);
        assert_eq!(get("start: shim spawn + runc create"), 43.0);
        assert!((get("total (client wall time)") - 92.0).abs() < 0.01);
        // The parts add up to the whole.
        let parts: f64 = p[..p.len() - 1].iter().map(|(_, v)| v).sum();
        assert!((parts - 92.0).abs() < 0.01, "{p:?}");
        assert!(phases(t0, t1, &log[..2]).is_none());
    }
}
