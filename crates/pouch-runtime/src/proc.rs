//! `top`: a `ps`-like table of a container's processes, read from /proc/<pid>/{stat,status,
//! cmdline} on the host (Docker runs the host's `ps`; images need not have one, and the host's
//! may differ). It understands the `ps` arguments clients send: none (`-ef`'s columns), `-ef`,
//! `-e`, `aux`, `ax`, and `-o`/`o` with procps column names; anything else is refused by name.
//! User and group names come from the host's /etc/passwd and /etc/group, as with Docker.

use std::collections::HashMap;
use std::io::ErrorKind;

use chrono::{DateTime, Datelike, Local, TimeZone};

/// USER_HZ, the unit of the times in /proc/<pid>/stat.
const CLOCK_TICKS: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("unsupported ps option(s) {}: use -ef, aux, or -o with columns like pid,user,args", .0.join(", "))]
    UnsupportedOptions(Vec<String>),
    #[error("unknown ps column(s) {}: known columns are {}", .0.join(", "), known_columns())]
    UnknownColumns(Vec<String>),
    #[error("ps option -o needs a list of columns, like -o pid,user,args")]
    MissingFormat,
    #[error("cannot read /proc/{pid}: {source}")]
    Read { pid: i32, source: std::io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Pid,
    Ppid,
    Pgid,
    Sid,
    User,
    Uid,
    Group,
    Gid,
    Comm,
    Args,
    Rss,
    Vsz,
    Stat,
    State,
    Time,
    BsdTime,
    Etime,
    Etimes,
    Pcpu,
    Pmem,
    C,
    Tty,
    Stime,
    Started,
    Nlwp,
    Nice,
    Pri,
    Psr,
}

/// procps names of the columns, with their headers.
const COLUMNS: &[(&str, Column, &str)] = &[
    ("pid", Column::Pid, "PID"),
    ("ppid", Column::Ppid, "PPID"),
    ("pgid", Column::Pgid, "PGID"),
    ("pgrp", Column::Pgid, "PGRP"),
    ("sid", Column::Sid, "SID"),
    ("sess", Column::Sid, "SESS"),
    ("session", Column::Sid, "SESS"),
    ("user", Column::User, "USER"),
    ("euser", Column::User, "EUSER"),
    ("uname", Column::User, "USER"),
    ("uid", Column::Uid, "UID"),
    ("euid", Column::Uid, "EUID"),
    ("group", Column::Group, "GROUP"),
    ("egroup", Column::Group, "EGROUP"),
    ("gid", Column::Gid, "GID"),
    ("egid", Column::Gid, "EGID"),
    ("comm", Column::Comm, "COMMAND"),
    ("ucmd", Column::Comm, "CMD"),
    ("ucomm", Column::Comm, "COMMAND"),
    ("args", Column::Args, "COMMAND"),
    ("command", Column::Args, "COMMAND"),
    ("cmd", Column::Args, "CMD"),
    ("rss", Column::Rss, "RSS"),
    ("rssize", Column::Rss, "RSS"),
    ("rsz", Column::Rss, "RSZ"),
    ("vsz", Column::Vsz, "VSZ"),
    ("vsize", Column::Vsz, "VSZ"),
    ("stat", Column::Stat, "STAT"),
    ("s", Column::State, "S"),
    ("state", Column::State, "S"),
    ("time", Column::Time, "TIME"),
    ("cputime", Column::Time, "TIME"),
    ("bsdtime", Column::BsdTime, "TIME"),
    ("etime", Column::Etime, "ELAPSED"),
    ("etimes", Column::Etimes, "ELAPSED"),
    ("pcpu", Column::Pcpu, "%CPU"),
    ("%cpu", Column::Pcpu, "%CPU"),
    ("pmem", Column::Pmem, "%MEM"),
    ("%mem", Column::Pmem, "%MEM"),
    ("c", Column::C, "C"),
    ("tty", Column::Tty, "TT"),
    ("tt", Column::Tty, "TT"),
    ("tname", Column::Tty, "TTY"),
    ("stime", Column::Stime, "STIME"),
    ("start_time", Column::Stime, "START"),
    ("start", Column::Started, "STARTED"),
    ("nlwp", Column::Nlwp, "NLWP"),
    ("thcount", Column::Nlwp, "THCNT"),
    ("ni", Column::Nice, "NI"),
    ("nice", Column::Nice, "NI"),
    ("pri", Column::Pri, "PRI"),
    ("psr", Column::Psr, "PSR"),
];

/// `ps -ef`
const FULL: &[(Column, &str)] = &[
    (Column::User, "UID"),
    (Column::Pid, "PID"),
    (Column::Ppid, "PPID"),
    (Column::C, "C"),
    (Column::Stime, "STIME"),
    (Column::Tty, "TTY"),
    (Column::Time, "TIME"),
    (Column::Args, "CMD"),
];
/// `ps aux`
const USER_ORIENTED: &[(Column, &str)] = &[
    (Column::User, "USER"),
    (Column::Pid, "PID"),
    (Column::Pcpu, "%CPU"),
    (Column::Pmem, "%MEM"),
    (Column::Vsz, "VSZ"),
    (Column::Rss, "RSS"),
    (Column::Tty, "TTY"),
    (Column::Stat, "STAT"),
    (Column::Stime, "START"),
    (Column::BsdTime, "TIME"),
    (Column::Args, "COMMAND"),
];
/// `ps -e`
const UNIX_DEFAULT: &[(Column, &str)] = &[
    (Column::Pid, "PID"),
    (Column::Tty, "TTY"),
    (Column::Time, "TIME"),
    (Column::Comm, "CMD"),
];
/// `ps ax`
const BSD_DEFAULT: &[(Column, &str)] = &[
    (Column::Pid, "PID"),
    (Column::Tty, "TTY"),
    (Column::Stat, "STAT"),
    (Column::BsdTime, "TIME"),
    (Column::Args, "COMMAND"),
];

fn known_columns() -> String {
    COLUMNS
        .iter()
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The processes `pids` as `ps <ps_args>` would show them: the column titles and one row per
/// process still alive, in pid order. `None` or an empty string means `-ef`.
pub fn top(
    pids: &[i32],
    ps_args: Option<&str>,
) -> Result<(Vec<String>, Vec<Vec<String>>), ProcError> {
    let columns = parse_ps_args(ps_args.unwrap_or(""))?;
    let titles = columns.iter().map(|(_, title)| title.clone()).collect();
    let host = Host::read();
    let mut sorted = pids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut rows = Vec::new();
    for pid in sorted {
        let Some(process) = Process::read(pid)? else {
            continue;
        };
        rows.push(
            columns
                .iter()
                .map(|(column, _)| process.value(*column, &host))
                .collect(),
        );
    }
    Ok((titles, rows))
}

/// The columns asked for by `ps` arguments (UNIX `-ef -o ..`, BSD `aux o ..`).
fn parse_ps_args(args: &str) -> Result<Vec<(Column, String)>, ProcError> {
    let tokens: Vec<&str> = args.split_whitespace().collect();
    if tokens.is_empty() {
        return Ok(own(FULL));
    }
    let mut unsupported = Vec::new();
    let mut formats: Vec<String> = Vec::new();
    let (mut full, mut user_oriented, mut bsd) = (false, false, false);
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        i += 1;
        if let Some(format) = token.strip_prefix("--format") {
            match format.strip_prefix('=') {
                Some(list) => formats.push(list.to_string()),
                None if format.is_empty() => {
                    formats.push(tokens.get(i).ok_or(ProcError::MissingFormat)?.to_string());
                    i += 1;
                }
                None => unsupported.push(token.to_string()),
            }
            continue;
        }
        let (letters, dash) = match token.strip_prefix('-') {
            // `-aux` is taken as `aux`, as procps does when no user "x" exists
            Some(rest) if rest.contains('u') && rest.chars().all(|c| "aux".contains(c)) => {
                (rest, false)
            }
            Some(rest) => (rest, true),
            None => (token, false),
        };
        bsd |= !dash;
        for (at, letter) in letters.char_indices() {
            match letter {
                // selections: a container's processes are all listed anyway
                'e' | 'A' | 'a' | 'x' | 'd' if dash || letter != 'e' => {}
                'w' => {}
                'f' | 'F' if dash => full = true,
                'u' if !dash => user_oriented = true,
                'o' => {
                    let rest = &letters[at + 1..];
                    if rest.is_empty() {
                        formats.push(tokens.get(i).ok_or(ProcError::MissingFormat)?.to_string());
                        i += 1;
                    } else {
                        formats.push(rest.to_string());
                    }
                    break;
                }
                other => {
                    let option = if dash {
                        format!("-{other}")
                    } else {
                        other.to_string()
                    };
                    if !unsupported.contains(&option) {
                        unsupported.push(option);
                    }
                }
            }
        }
    }
    if !unsupported.is_empty() {
        return Err(ProcError::UnsupportedOptions(unsupported));
    }
    if !formats.is_empty() {
        return parse_format(&formats);
    }
    Ok(own(if user_oriented {
        USER_ORIENTED
    } else if full {
        FULL
    } else if bsd {
        BSD_DEFAULT
    } else {
        UNIX_DEFAULT
    }))
}

fn own(columns: &[(Column, &str)]) -> Vec<(Column, String)> {
    columns.iter().map(|(c, t)| (*c, t.to_string())).collect()
}

/// `pid,user,args` lists; `name=Header` renames a column.
fn parse_format(lists: &[String]) -> Result<Vec<(Column, String)>, ProcError> {
    let mut columns = Vec::new();
    let mut unknown = Vec::new();
    for item in lists
        .iter()
        .flat_map(|l| l.split([',', ' ']))
        .filter(|s| !s.is_empty())
    {
        let (name, header) = match item.split_once('=') {
            Some((name, header)) => (name, Some(header)),
            None => (item, None),
        };
        match COLUMNS
            .iter()
            .find(|(known, _, _)| known.eq_ignore_ascii_case(name))
        {
            Some((_, column, title)) => {
                columns.push((*column, header.unwrap_or(title).to_string()))
            }
            None => unknown.push(name.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(ProcError::UnknownColumns(unknown));
    }
    if columns.is_empty() {
        return Err(ProcError::MissingFormat);
    }
    Ok(columns)
}

/// What every row needs from the host: names of users and groups, the clock, boot time, memory.
struct Host {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    boot_time: u64,
    now: DateTime<Local>,
    memory_kib: u64,
}

impl Host {
    fn read() -> Host {
        let read = |file: &str| std::fs::read_to_string(file).unwrap_or_default();
        let boot_time = read("/proc/stat")
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            .unwrap_or(0);
        let memory_kib = read("/proc/meminfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        Host {
            users: parse_id_names(&read("/etc/passwd")),
            groups: parse_id_names(&read("/etc/group")),
            boot_time,
            now: Local::now(),
            memory_kib,
        }
    }
}

/// `name:x:id:...` lines of /etc/passwd and /etc/group, first name of an id wins.
fn parse_id_names(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split(':');
        let (Some(name), _, Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(id) = id.parse() {
            names.entry(id).or_insert_with(|| name.to_string());
        }
    }
    names
}

/// What /proc says of one process.
#[derive(Debug, Default)]
struct Process {
    pid: i32,
    comm: String,
    state: char,
    ppid: i32,
    pgrp: i32,
    session: i32,
    tty_nr: u32,
    tpgid: i32,
    utime: u64,
    stime: u64,
    priority: i64,
    nice: i64,
    threads: u64,
    start_ticks: u64,
    processor: i64,
    uid: u32,
    gid: u32,
    rss_kib: u64,
    vsz_kib: u64,
    locked_kib: u64,
    args: Vec<String>,
}

impl Process {
    /// `None` when the process is gone.
    fn read(pid: i32) -> Result<Option<Process>, ProcError> {
        let read = |file: &str| match std::fs::read(format!("/proc/{pid}/{file}")) {
            Ok(bytes) => Ok(Some(bytes)),
            // ESRCH: the process exited while it was read
            Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(3) => Ok(None),
            Err(source) => Err(ProcError::Read { pid, source }),
        };
        let (Some(stat), Some(status), Some(cmdline)) =
            (read("stat")?, read("status")?, read("cmdline")?)
        else {
            return Ok(None);
        };
        let Some(mut process) = parse_stat(&String::from_utf8_lossy(&stat)) else {
            return Ok(None);
        };
        apply_status(&mut process, &String::from_utf8_lossy(&status));
        process.args = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        Ok(Some(process))
    }

    fn cpu_ticks(&self) -> u64 {
        self.utime + self.stime
    }

    fn started(&self, host: &Host) -> DateTime<Local> {
        let secs = host.boot_time + self.start_ticks / CLOCK_TICKS;
        Local
            .timestamp_opt(secs as i64, 0)
            .single()
            .unwrap_or(host.now)
    }

    fn elapsed_secs(&self, host: &Host) -> u64 {
        (host.now - self.started(host)).num_seconds().max(0) as u64
    }

    /// CPU time over elapsed time in tenths of a percent, as procps computes %CPU.
    fn cpu_permille(&self, host: &Host) -> u64 {
        match self.elapsed_secs(host) {
            0 => 0,
            secs => self.cpu_ticks() * 1000 / CLOCK_TICKS / secs,
        }
    }

    fn value(&self, column: Column, host: &Host) -> String {
        let name_or_id = |names: &HashMap<u32, String>, id: u32| {
            names.get(&id).cloned().unwrap_or_else(|| id.to_string())
        };
        match column {
            Column::Pid => self.pid.to_string(),
            Column::Ppid => self.ppid.to_string(),
            Column::Pgid => self.pgrp.to_string(),
            Column::Sid => self.session.to_string(),
            Column::User => name_or_id(&host.users, self.uid),
            Column::Uid => self.uid.to_string(),
            Column::Group => name_or_id(&host.groups, self.gid),
            Column::Gid => self.gid.to_string(),
            Column::Comm => self.comm.clone(),
            Column::Args if self.args.is_empty() => format!("[{}]", self.comm),
            Column::Args => self.args.join(" "),
            Column::Rss => self.rss_kib.to_string(),
            Column::Vsz => self.vsz_kib.to_string(),
            Column::Stat => self.stat_flags(),
            Column::State => self.state.to_string(),
            Column::Time => format_cpu_time(self.cpu_ticks() / CLOCK_TICKS),
            Column::BsdTime => {
                let secs = self.cpu_ticks() / CLOCK_TICKS;
                format!("{}:{:02}", secs / 60, secs % 60)
            }
            Column::Etime => format_elapsed(self.elapsed_secs(host)),
            Column::Etimes => self.elapsed_secs(host).to_string(),
            Column::Pcpu => {
                let permille = self.cpu_permille(host);
                format!("{}.{}", permille / 10, permille % 10)
            }
            Column::Pmem => {
                let permille = (self.rss_kib * 1000)
                    .checked_div(host.memory_kib)
                    .unwrap_or(0);
                format!("{}.{}", permille / 10, permille % 10)
            }
            Column::C => (self.cpu_permille(host) / 10).min(99).to_string(),
            Column::Tty => tty_name(self.tty_nr),
            Column::Stime => format_start(self.started(host), host.now),
            Column::Started => {
                let started = self.started(host);
                if host.now - started < chrono::Duration::hours(24) {
                    started.format("%H:%M:%S").to_string()
                } else {
                    started.format("%b %d").to_string()
                }
            }
            Column::Nlwp => self.threads.to_string(),
            Column::Nice => self.nice.to_string(),
            // procps shows 39 minus the kernel's value: 19 for nice 0
            Column::Pri => (39 - self.priority).to_string(),
            Column::Psr => self.processor.to_string(),
        }
    }

    /// `ps`'s STAT: the state, then `<` (high priority) or `N` (low), `L` (pages locked in
    /// memory), `s` (session leader), `l` (multi-threaded), `+` (in the foreground process
    /// group of its terminal).
    fn stat_flags(&self) -> String {
        let mut flags = self.state.to_string();
        if self.nice < 0 {
            flags.push('<');
        } else if self.nice > 0 {
            flags.push('N');
        }
        if self.locked_kib > 0 {
            flags.push('L');
        }
        if self.session == self.pid {
            flags.push('s');
        }
        if self.threads > 1 {
            flags.push('l');
        }
        if self.tty_nr != 0 && self.tpgid == self.pgrp {
            flags.push('+');
        }
        flags
    }
}

/// /proc/<pid>/stat: `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<Process> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // field n of proc(5) is fields[n - 3]
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or("0");
    let number = |n: usize| field(n).parse::<i64>().unwrap_or(0);
    let unsigned = |n: usize| field(n).parse::<u64>().unwrap_or(0);
    Some(Process {
        pid,
        comm,
        state: field(3).chars().next().unwrap_or('?'),
        ppid: number(4) as i32,
        pgrp: number(5) as i32,
        session: number(6) as i32,
        tty_nr: unsigned(7) as u32,
        tpgid: number(8) as i32,
        utime: unsigned(14),
        stime: unsigned(15),
        priority: number(18),
        nice: number(19),
        threads: unsigned(20),
        start_ticks: unsigned(22),
        processor: number(39),
        ..Process::default()
    })
}

/// The effective uid and gid, VmRSS, VmSize and VmLck (absent for zombies and kernel threads).
fn apply_status(process: &mut Process, status: &str) {
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let mut values = value.split_whitespace();
        match key {
            "Uid" => process.uid = values.nth(1).and_then(|v| v.parse().ok()).unwrap_or(0),
            "Gid" => process.gid = values.nth(1).and_then(|v| v.parse().ok()).unwrap_or(0),
            "VmRSS" => process.rss_kib = values.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "VmSize" => process.vsz_kib = values.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "VmLck" => process.locked_kib = values.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
}

/// The terminal of a `tty_nr` (`pts/0`, `tty1`, `ttyS0`), or `?`.
fn tty_name(tty_nr: u32) -> String {
    if tty_nr == 0 {
        return "?".to_string();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".to_string(),
        _ => format!("{major},{minor}"),
    }
}

/// `[DD-]HH:MM:SS`
fn format_cpu_time(secs: u64) -> String {
    let (days, rest) = (secs / 86400, secs % 86400);
    let hms = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}-{hms}")
    } else {
        hms
    }
}

/// `[[DD-]HH:]MM:SS`
fn format_elapsed(secs: u64) -> String {
    let (days, rest) = (secs / 86400, secs % 86400);
    let (hours, minutes, seconds) = (rest / 3600, rest % 3600 / 60, rest % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes:02}:{seconds:02}"),
        (0, _) => format!("{hours:02}:{minutes:02}:{seconds:02}"),
        _ => format!("{days}-{hours:02}:{minutes:02}:{seconds:02}"),
    }
}

/// STIME/START: `HH:MM` today, `MonDD` this year, else the year.
fn format_start(started: DateTime<Local>, now: DateTime<Local>) -> String {
    if now - started < chrono::Duration::hours(24) {
        started.format("%H:%M").to_string()
    } else if started.year() == now.year() {
        started.format("%b%d").to_string()
    } else {
        started.year().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(args: &str) -> Vec<String> {
        parse_ps_args(args)
            .unwrap()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn default_columns_are_those_of_ps_ef() {
        let full = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
        assert_eq!(titles(""), full);
        assert_eq!(titles("-ef"), full);
        assert_eq!(titles("-e -f"), full);
        assert_eq!(titles("-Af"), full);
    }

    #[test]
    fn knows_the_bsd_and_unix_formats() {
        let aux = [
            "USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND",
        ];
        assert_eq!(titles("aux"), aux);
        assert_eq!(titles("-aux"), aux);
        assert_eq!(titles("auxww"), aux);
        assert_eq!(titles("-e"), ["PID", "TTY", "TIME", "CMD"]);
        assert_eq!(titles("ax"), ["PID", "TTY", "STAT", "TIME", "COMMAND"]);
    }

    #[test]
    fn takes_column_lists() {
        assert_eq!(titles("-o pid,comm"), ["PID", "COMMAND"]);
        assert_eq!(titles("-eo pid,user,args"), ["PID", "USER", "COMMAND"]);
        assert_eq!(titles("o pid,rss,vsz"), ["PID", "RSS", "VSZ"]);
        assert_eq!(titles("-o pid -o %cpu,%mem"), ["PID", "%CPU", "%MEM"]);
        assert_eq!(titles("--format pid,etime"), ["PID", "ELAPSED"]);
        assert_eq!(titles("--format=uid,stat,time"), ["UID", "STAT", "TIME"]);
        assert_eq!(titles("-o pid=ID,cmd"), ["ID", "CMD"]);
        assert_eq!(titles("-opid,PPID"), ["PID", "PPID"]);
    }

    #[test]
    fn refuses_what_it_does_not_know_by_name() {
        let err = parse_ps_args("-l -j").unwrap_err();
        assert!(
            matches!(&err, ProcError::UnsupportedOptions(o) if o == &["-l", "-j"]),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("unsupported ps option(s) -l, -j: "));
        let err = parse_ps_args("-o pid,foo,bar").unwrap_err();
        assert!(
            matches!(&err, ProcError::UnknownColumns(c) if c == &["foo", "bar"]),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("unknown ps column(s) foo, bar: known columns are pid,"));
        assert!(matches!(parse_ps_args("-o"), Err(ProcError::MissingFormat)));
        assert!(matches!(
            parse_ps_args("--format"),
            Err(ProcError::MissingFormat)
        ));
        assert!(matches!(
            parse_ps_args("--sort=pid"),
            Err(ProcError::UnsupportedOptions(_))
        ));
    }

    #[test]
    fn parses_stat_lines_with_odd_command_names() {
        let line = "42 (a) (b c) S 1 42 42 34816 42 4194304 0 0 0 0 250 150 0 0 20 -5 3 0 1000 \
                    4096 1 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let p = parse_stat(line).unwrap();
        assert_eq!(p.pid, 42);
        assert_eq!(p.comm, "a) (b c");
        assert_eq!(p.state, 'S');
        assert_eq!((p.ppid, p.pgrp, p.session, p.tpgid), (1, 42, 42, 42));
        assert_eq!(tty_name(p.tty_nr), "pts/0");
        assert_eq!((p.utime, p.stime, p.nice, p.threads), (250, 150, -5, 3));
        assert_eq!(p.start_ticks, 1000);
        assert_eq!(p.processor, 1);
        assert_eq!(p.stat_flags(), "S<sl+");
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn formats_times_and_terminals() {
        assert_eq!(format_cpu_time(34), "00:00:34");
        assert_eq!(format_cpu_time(90061), "1-01:01:01");
        assert_eq!(format_elapsed(5), "00:05");
        assert_eq!(format_elapsed(3725), "01:02:05");
        assert_eq!(format_elapsed(90061), "1-01:01:01");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
        assert_eq!(tty_name((4 << 8) | 64), "ttyS0");
        assert_eq!(tty_name((137 << 8) | 2), "pts/258");
        let users = parse_id_names("root:x:0:0:root:/root:/bin/sh\n# c\nbin:x:1:1::/:\nbad\n");
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&1).map(String::as_str), Some("bin"));
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn lists_the_current_process_like_ps_ef() {
        let me = std::process::id() as i32;
        let (titles, rows) = top(&[me], None).unwrap();
        assert_eq!(titles.len(), 8);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row[1], me.to_string());
        assert_eq!(
            row[2],
            rustix::process::getppid()
                .map_or(0, |p| p.as_raw_nonzero().get())
                .to_string()
        );
        let uid = rustix::process::geteuid().as_raw();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let expected_user = parse_id_names(&passwd)
            .get(&uid)
            .cloned()
            .unwrap_or(uid.to_string());
        assert_eq!(row[0], expected_user);
        let exe = std::env::args().next().unwrap();
        assert!(row[7].starts_with(&exe), "{row:?}");
        assert!(row[6].len() >= 8 && row[6].contains(':'), "{row:?}");
    }

    #[test]
    fn lists_columns_of_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        std::thread::sleep(std::time::Duration::from_millis(100));
        let me = std::process::id().to_string();
        let (titles, rows) = top(
            &[pid, pid, 999_999_999],
            Some("-o pid,ppid,user,uid,comm,args,rss,vsz,stat,time,etime,pcpu,%mem,nlwp,tty"),
        )
        .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(titles.len(), 15);
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row[0], pid.to_string());
        assert_eq!(row[1], me);
        assert_eq!(row[3], rustix::process::geteuid().as_raw().to_string());
        assert_eq!(row[4], "sleep");
        assert_eq!(row[5], "sleep 30");
        let rss: u64 = row[6].parse().unwrap();
        let vsz: u64 = row[7].parse().unwrap();
        assert!(rss > 0 && vsz >= rss, "{row:?}");
        assert!(row[8].starts_with('S'), "{row:?}");
        assert_eq!(row[9], "00:00:00");
        assert!(row[10].starts_with("00:0"), "{row:?}");
        assert_eq!(row[11], "0.0");
        assert_eq!(row[13], "1");

        let (_, rows) = top(&[pid], Some("aux")).unwrap();
        assert!(
            rows.is_empty(),
            "the reaped child is still listed: {rows:?}"
        );
    }
}
