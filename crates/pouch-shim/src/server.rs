//! The serving loop after create: one `poll` over `shim.sock`, the process's pidfd, its output,
//! its stdin and the connected clients. Output goes to the log and to attached clients
//! (non-blocking, each with a bounded backlog); on exit the loop drains the output, writes
//! the `exit` file, answers waiters, closes clients and removes the socket.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use pouch_runtime::shim::protocol::{
    to_line, ErrorAnswer, ExitStatus, OkAnswer, Request, ShimState, SOCKET_FILE,
};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{waitpid, Pid, WaitOptions};

use crate::clock::rfc3339_nano;
use crate::conn::{Client, RequestLine, Role};
use crate::exit::{exit_code, oom_killed, write_exit_file};
use crate::log::JsonLog;
use crate::stdio::{ContainerIo, ReadOutcome};

/// Output read per source and wakeup.
const READ_CHUNK: usize = 32 * 1024;
/// Stop reading clients' input while this much stdin is not yet written.
const STDIN_HIGH_WATER: usize = 64 * 1024;
/// Output kept for the first attacher of an exec.
const EARLY_LIMIT: usize = 1 << 20;
/// How long output is read after the process exited.
const DRAIN_TIME: Duration = Duration::from_secs(2);
/// How long clients get to take their last bytes.
const FLUSH_TIME: Duration = Duration::from_secs(2);
/// How long connections made just before the socket was removed get to send their request.
const LAST_CALLS: Duration = Duration::from_secs(1);
/// How long an exited exec with unclaimed output waits for its first attacher (the engine
/// attaches right after the spawn; a short exec can finish before it connects).
const EXEC_ATTACH_GRACE: Duration = Duration::from_secs(10);
/// Wakeup interval for reaping orphans (there is no SIGCHLD handler).
const REAP_TICK: Duration = Duration::from_secs(10);
/// Wakeup interval when the kernel has no pidfds.
const NO_PIDFD_TICK: Duration = Duration::from_millis(100);
/// Connections beyond this are closed at once.
const MAX_CLIENTS: usize = 512;
/// Where the cgroup controllers are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What the server was started with.
pub struct Setup {
    pub subject: String,
    pub state_dir: PathBuf,
    pub stdin_once: bool,
    pub cgroup_path: Option<String>,
    pub listener: UnixListener,
    pub pid: u32,
    pub pidfd: Option<OwnedFd>,
    pub io: ContainerIo,
    pub log: Option<JsonLog>,
    /// Exec mode: keep output for the first attacher.
    pub keep_early_output: bool,
}

/// Output an exec produced before anyone attached.
#[derive(Default)]
struct Early {
    chunks: Vec<(u8, Vec<u8>)>,
    size: usize,
}

impl Early {
    fn push(&mut self, stream: u8, data: &[u8]) {
        let take = data.len().min(EARLY_LIMIT - self.size);
        if take == 0 {
            return;
        }
        match self.chunks.last_mut() {
            Some((s, chunk)) if *s == stream => chunk.extend_from_slice(&data[..take]),
            _ => self.chunks.push((stream, data[..take].to_vec())),
        }
        self.size += take;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// The process exited; output is read until EOF or the deadline.
    Draining(Instant),
    /// The exit is recorded; clients get their last bytes until the deadline.
    Closing(Instant),
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Listener,
    Pidfd,
    Source(usize),
    Stdin,
    Client(usize),
}

/// The shim after a successful create.
pub struct Server {
    setup: Setup,
    pid: Pid,
    early: Option<Early>,
    clients: Vec<Client>,
    next_client: u64,
    /// stdin-once: the attacher whose EOF closes stdin, and whether one was chosen.
    stdin_owner: Option<u64>,
    stdin_owner_chosen: bool,
    /// The raw wait status and when it was collected.
    reaped: Option<(i32, SystemTime)>,
    exit: Option<ExitStatus>,
    phase: Phase,
    /// shim.sock is removed (the last step before exiting).
    unlinked: bool,
    buf: Vec<u8>,
    log_failed: bool,
}

impl Server {
    pub fn new(setup: Setup) -> Server {
        // The pid file held a positive pid; 1 would be a runtime bug, not a case to handle.
        let pid = Pid::from_raw(setup.pid as i32).unwrap_or(Pid::INIT);
        let early = setup.keep_early_output.then(Early::default);
        Server {
            setup,
            pid,
            early,
            clients: Vec::new(),
            next_client: 0,
            stdin_owner: None,
            stdin_owner_chosen: false,
            reaped: None,
            exit: None,
            phase: Phase::Running,
            unlinked: false,
            buf: vec![0u8; READ_CHUNK],
            log_failed: false,
        }
    }

    /// Serves until the process has exited and its exit is recorded; returns that exit.
    pub fn serve(mut self) -> ExitStatus {
        loop {
            self.reap();
            let now = Instant::now();
            match self.phase {
                Phase::Draining(until) if now >= until || !self.setup.io.any_source_open() => {
                    self.finish();
                    continue;
                }
                Phase::Closing(until)
                    if now >= until
                        || self.clients.is_empty()
                            && (self.unlinked || !self.output_unclaimed()) =>
                {
                    if self.unlinked {
                        break;
                    }
                    // No new connection can come once the socket is gone; those that came
                    // before still get their answer.
                    let _ = std::fs::remove_file(self.setup.state_dir.join(SOCKET_FILE));
                    self.unlinked = true;
                    self.accept();
                    self.phase = Phase::Closing(now + LAST_CALLS);
                    continue;
                }
                _ => {}
            }
            let timeout = match self.phase {
                Phase::Running if self.setup.pidfd.is_none() => NO_PIDFD_TICK,
                Phase::Running => REAP_TICK,
                Phase::Draining(until) | Phase::Closing(until) => until - now,
            };
            for (slot, events) in self.poll(timeout) {
                match slot {
                    Slot::Listener => self.accept(),
                    Slot::Pidfd => self.pidfd_ready(),
                    Slot::Source(i) => self.read_output(i),
                    Slot::Stdin => self.setup.io.flush_stdin(),
                    Slot::Client(i) => self.client_event(i, events),
                }
            }
            self.sweep();
        }
        self.exit.take().unwrap_or_else(|| ExitStatus {
            exit_code: 255,
            oom_killed: false,
            exited_at: rfc3339_nano(SystemTime::now()),
        })
    }

    /// One poll over everything that can make progress; returns the ready slots.
    fn poll(&self, timeout: Duration) -> Vec<(Slot, PollFlags)> {
        let mut slots = Vec::with_capacity(4 + self.clients.len());
        let mut fds = Vec::with_capacity(4 + self.clients.len());
        fds.push(PollFd::new(&self.setup.listener, PollFlags::IN));
        slots.push(Slot::Listener);
        if let (Some(pidfd), None) = (&self.setup.pidfd, &self.reaped) {
            fds.push(PollFd::new(pidfd, PollFlags::IN));
            slots.push(Slot::Pidfd);
        }
        for (i, source) in self.setup.io.sources.iter().enumerate() {
            if source.open {
                fds.push(PollFd::new(&source.fd, PollFlags::IN));
                slots.push(Slot::Source(i));
            }
        }
        if let Some(stdin) = self.setup.io.stdin_pending() {
            fds.push(PollFd::from_borrowed_fd(stdin, PollFlags::OUT));
            slots.push(Slot::Stdin);
        }
        let stdin_room = self.setup.io.stdin_backlog() < STDIN_HIGH_WATER;
        for (i, client) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if client.wants_input(stdin_room) {
                flags |= PollFlags::IN;
            }
            if client.has_output() {
                flags |= PollFlags::OUT;
            }
            fds.push(PollFd::new(client.socket(), flags));
            slots.push(Slot::Client(i));
        }
        let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        if let Err(e) = poll(&mut fds, Some(&timeout)) {
            if e != rustix::io::Errno::INTR {
                eprintln!("pouch-shim: poll: {e}");
            }
            return Vec::new();
        }
        fds.iter()
            .zip(slots)
            .filter(|(fd, _)| !fd.revents().is_empty())
            .map(|(fd, slot)| (slot, fd.revents()))
            .collect()
    }

    fn accept(&mut self) {
        loop {
            match self.setup.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= MAX_CLIENTS {
                        eprintln!("pouch-shim: too many connections, closing a new one");
                        continue;
                    }
                    if let Err(e) = stream.set_nonblocking(true) {
                        eprintln!("pouch-shim: connection: {e}");
                        continue;
                    }
                    self.next_client += 1;
                    self.clients.push(Client::new(self.next_client, stream));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    eprintln!("pouch-shim: accept: {e}");
                    return;
                }
            }
        }
    }

    /// Collects the process's status once it exited, and any other child (orphans the shim
    /// inherited as subreaper).
    fn reap(&mut self) {
        let mut status = None;
        if self.reaped.is_none() {
            if let Ok(Some((_, s))) = waitpid(Some(self.pid), WaitOptions::NOHANG) {
                status = Some(s.as_raw());
            }
        }
        while let Ok(Some((pid, s))) = waitpid(None, WaitOptions::NOHANG) {
            if pid == self.pid && self.reaped.is_none() {
                status = Some(s.as_raw());
            }
        }
        if let Some(raw) = status {
            self.record(raw);
        }
    }

    /// The pidfd turned readable: the process is gone.
    fn pidfd_ready(&mut self) {
        self.reap();
        if self.reaped.is_none() {
            if let Err(rustix::io::Errno::CHILD) = waitpid(Some(self.pid), WaitOptions::NOHANG) {
                // Not our child (a runtime that moved it past the subreaper): its status is lost.
                eprintln!(
                    "pouch-shim: {} (pid {}) exited but is not a child of the shim; exit code unknown",
                    self.setup.subject, self.setup.pid
                );
                self.record(255 << 8);
            }
        }
    }

    fn record(&mut self, raw: i32) {
        self.reaped = Some((raw, SystemTime::now()));
        self.setup.pidfd = None;
        self.setup.io.drop_stdin();
        if self.phase == Phase::Running {
            self.phase = Phase::Draining(Instant::now() + DRAIN_TIME);
        }
    }

    fn read_output(&mut self, index: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        // A few reads per wakeup, so one busy stream cannot starve the rest.
        for _ in 0..4 {
            match self.setup.io.read(index, &mut buf) {
                ReadOutcome::Data(n) => {
                    let stream = self.setup.io.sources[index].stream;
                    self.dispatch(stream, &buf[..n]);
                    if n < buf.len() {
                        break;
                    }
                }
                ReadOutcome::Eof | ReadOutcome::WouldBlock => break,
            }
        }
        self.buf = buf;
    }

    /// Sends output to the log, the early buffer and every attached client of that stream.
    fn dispatch(&mut self, stream: u8, data: &[u8]) {
        if let Some(log) = &mut self.setup.log {
            if let Err(e) = log.write(stream, data, SystemTime::now()) {
                if !self.log_failed {
                    eprintln!("pouch-shim: {}: {e}", self.setup.subject);
                    self.log_failed = true;
                }
            }
        }
        if let Some(early) = &mut self.early {
            early.push(stream, data);
        }
        let tty = self.setup.io.tty;
        for client in &mut self.clients {
            if client.wants_stream(stream) {
                client.queue_output(tty, stream, data);
                client.flush();
            }
        }
    }

    fn client_event(&mut self, index: usize, events: PollFlags) {
        if events.contains(PollFlags::OUT) {
            self.clients[index].flush();
        }
        if events.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            self.read_client(index);
        }
        if events.intersects(PollFlags::HUP | PollFlags::ERR) {
            // The peer is gone for good (a half-close shows as IN, not HUP).
            self.clients[index].dead = true;
        }
    }

    fn read_client(&mut self, index: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let stdin_room = self.setup.io.stdin_backlog() < STDIN_HIGH_WATER;
            if !self.clients[index].wants_input(stdin_room) {
                break;
            }
            match self.clients[index].read(&mut buf) {
                ReadOutcome::Data(n) => self.client_input(index, &buf[..n]),
                ReadOutcome::Eof => {
                    self.client_eof(index);
                    break;
                }
                ReadOutcome::WouldBlock => break,
            }
        }
        self.buf = buf;
    }

    fn client_input(&mut self, index: usize, data: &[u8]) {
        match self.clients[index].role {
            Role::Pending => {
                let client = &mut self.clients[index];
                match client.take_request(data) {
                    Ok(Some(RequestLine { line, rest })) => {
                        self.request(index, &line);
                        if !rest.is_empty() {
                            self.client_input(index, &rest);
                        }
                    }
                    Ok(None) => {}
                    Err(message) => client.answer_last(&ErrorAnswer { error: message }),
                }
            }
            Role::Attached { stdin: true, .. } => self.setup.io.push_stdin(data),
            // Anything else a client sends is not for the process.
            _ => {}
        }
    }

    fn client_eof(&mut self, index: usize) {
        let client = &mut self.clients[index];
        match client.role {
            Role::Attached {
                stdin: true,
                stdout,
                stderr,
            } => {
                client.role = Role::Attached {
                    stdin: false,
                    stdout,
                    stderr,
                };
                if !stdout && !stderr {
                    client.close_when_flushed = true;
                }
                if self.stdin_owner == Some(client.id) {
                    self.stdin_owner = None;
                    self.setup.io.close_stdin();
                }
            }
            // No request will come.
            Role::Pending => client.dead = true,
            // A half-close: a full close shows as HUP.
            Role::Waiting | Role::Answered | Role::Attached { .. } => {}
        }
    }

    /// Handles one request line of client `index`.
    fn request(&mut self, index: usize, line: &[u8]) {
        let request = match serde_json::from_slice::<Request>(line) {
            Ok(request) => request,
            Err(e) => {
                let error = format!("invalid request {:?}: {e}", String::from_utf8_lossy(line));
                self.clients[index].answer_last(&ErrorAnswer { error });
                return;
            }
        };
        match request {
            Request::Attach(attach) => {
                let tty = self.setup.io.tty;
                let choose_owner = attach.stdin
                    && self.setup.stdin_once
                    && !self.stdin_owner_chosen
                    && self.setup.io.stdin_open();
                let early = self.early.take();
                let client = &mut self.clients[index];
                client.queue(&to_line(&OkAnswer { ok: true }));
                client.role = Role::Attached {
                    stdin: attach.stdin,
                    stdout: attach.stdout,
                    stderr: attach.stderr,
                };
                if choose_owner {
                    self.stdin_owner = Some(client.id);
                    self.stdin_owner_chosen = true;
                }
                for (stream, data) in early.iter().flat_map(|e| &e.chunks) {
                    if client.wants_stream(*stream) {
                        client.queue_output(tty, *stream, data);
                    }
                }
                if self.exit.is_some() {
                    client.close_when_flushed = true;
                }
                client.flush();
            }
            Request::Resize(size) => {
                let answer = match self.setup.io.resize(size.height, size.width) {
                    Ok(()) => to_line(&OkAnswer { ok: true }),
                    Err(e) => to_line(&ErrorAnswer {
                        error: format!("cannot resize the terminal of {}: {e}", self.setup.subject),
                    }),
                };
                self.clients[index].answer_line(&answer);
            }
            Request::Wait(_) => match &self.exit {
                Some(exit) => self.clients[index].answer_last(exit),
                None => self.clients[index].role = Role::Waiting,
            },
            Request::CloseStdin(_) => {
                self.setup.io.close_stdin();
                self.clients[index].answer_last(&OkAnswer { ok: true });
            }
            Request::State(_) => {
                let state = ShimState {
                    pid: self.setup.pid,
                    running: self.reaped.is_none(),
                };
                self.clients[index].answer_last(&state);
            }
        }
    }

    /// Records the exit: logs the last partial lines, checks OOM, writes the exit file,
    /// answers waiters and lets every client go once flushed.
    fn finish(&mut self) {
        let (raw, at) = self.reaped.unwrap_or((255 << 8, SystemTime::now()));
        // Read what is left without waiting any longer.
        for i in 0..self.setup.io.sources.len() {
            if self.setup.io.sources[i].open {
                self.read_output(i);
            }
        }
        if let Some(log) = &mut self.setup.log {
            if let Err(e) = log.finish(SystemTime::now()) {
                eprintln!("pouch-shim: {}: {e}", self.setup.subject);
            }
        }
        let oom = self
            .setup
            .cgroup_path
            .as_deref()
            .is_some_and(|p| oom_killed(CGROUP_ROOT.as_ref(), p));
        let exit = ExitStatus {
            exit_code: exit_code(raw),
            oom_killed: oom,
            exited_at: rfc3339_nano(at),
        };
        if let Err(e) = write_exit_file(&self.setup.state_dir, &exit) {
            eprintln!(
                "pouch-shim: cannot write the exit file of {} in {}: {e}",
                self.setup.subject,
                self.setup.state_dir.display()
            );
        }
        for client in &mut self.clients {
            if client.role == Role::Waiting {
                client.answer_last(&exit);
            }
            // A client whose request is not read yet may still attach and get the output.
            if client.role != Role::Pending {
                client.close_when_flushed = true;
            }
            client.flush();
        }
        // Sources still open (a daemonized child holds the pipe) are abandoned.
        for source in &mut self.setup.io.sources {
            source.open = false;
        }
        self.exit = Some(exit);
        let grace = if self.output_unclaimed() {
            EXEC_ATTACH_GRACE
        } else {
            FLUSH_TIME
        };
        self.phase = Phase::Closing(Instant::now() + grace);
    }

    /// Whether an exec's output still waits for its first attacher.
    fn output_unclaimed(&self) -> bool {
        self.early.as_ref().is_some_and(|e| e.size > 0)
    }

    /// Drops dead clients and those done; a vanished stdin-once attacher closes stdin.
    fn sweep(&mut self) {
        let mut i = 0;
        while i < self.clients.len() {
            let client = &self.clients[i];
            let done = client.close_when_flushed && !client.has_output();
            if client.dead || done {
                if self.stdin_owner == Some(client.id) {
                    self.stdin_owner = None;
                    self.setup.io.close_stdin();
                }
                self.clients.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_runtime::shim::protocol::STREAM_STDOUT;

    #[test]
    fn early_output_is_capped_and_merged() {
        let mut early = Early::default();
        early.push(STREAM_STDOUT, b"ab");
        early.push(STREAM_STDOUT, b"cd");
        early.push(2, b"e");
        assert_eq!(early.chunks.len(), 2);
        assert_eq!(early.chunks[0].1, b"abcd");
        early.push(STREAM_STDOUT, &vec![0u8; EARLY_LIMIT]);
        assert_eq!(early.size, EARLY_LIMIT);
        early.push(STREAM_STDOUT, b"more");
        assert_eq!(early.size, EARLY_LIMIT);
    }
}
