//! Interactive sessions driven through a pseudo-terminal: `pouch run -it`, `docker run -it`,
//! `docker exec -it`, the exit status of the shell, and detaching with ctrl-p ctrl-q.

use std::time::Duration;

use pouch_e2e::{require_docker_cli, setup};

const T: Duration = Duration::from_secs(15);

#[test]
fn run_and_exec_interactive() {
    let Some(bins) = setup::e2e("run_and_exec_interactive") else {
        return;
    };
    let (_reg, d) = setup::busybox_mirror(&bins);
    d.pouch(&["pull", "busybox"]).ok();

    // pouch run -it: a shell on a tty; its exit status becomes ours.
    let mut s = d
        .pouch_pty(&["run", "-it", "--rm", "busybox", "sh"])
        .expect("pty");
    s.send("tty; echo sum-$((40+2))\n").unwrap();
    assert!(s.expect("sum-42", T), "screen: {}", s.screen);
    assert!(
        s.screen.contains("/dev/pts/0"),
        "no tty in the container: {}",
        s.screen
    );
    s.send("exit 5\n").unwrap();
    assert_eq!(
        s.wait(T).and_then(|st| st.code()),
        Some(5),
        "screen: {}",
        s.screen
    );

    // Detach with ctrl-p ctrl-q leaves the container running.
    let mut s = d
        .pouch_pty(&["run", "-it", "--name", "det", "busybox", "sh"])
        .expect("pty");
    s.send("echo ready\n").unwrap();
    assert!(s.expect("ready", T), "screen: {}", s.screen);
    s.send("\x10\x11").unwrap();
    assert!(
        s.wait(T).is_some(),
        "pouch run did not detach: {}",
        s.screen
    );
    assert_eq!(d.container("det")["State"]["Running"], true);

    if !require_docker_cli("run_and_exec_interactive") {
        return;
    }
    // docker exec -it into the running container.
    let mut s = d.docker_pty(&["exec", "-it", "det", "sh"]).expect("pty");
    s.send("echo in-exec-$((1+1))\n").unwrap();
    assert!(s.expect("in-exec-2", T), "screen: {}", s.screen);
    s.send("exit 3\n").unwrap();
    assert_eq!(
        s.wait(T).and_then(|st| st.code()),
        Some(3),
        "screen: {}",
        s.screen
    );

    // docker run -it.
    let mut s = d
        .docker_pty(&["run", "-it", "--rm", "busybox", "sh"])
        .expect("pty");
    s.send("echo docker-$((2*3))\n").unwrap();
    assert!(s.expect("docker-6", T), "screen: {}", s.screen);
    s.send("exit\n").unwrap();
    assert_eq!(
        s.wait(T).and_then(|st| st.code()),
        Some(0),
        "screen: {}",
        s.screen
    );
    d.pouch(&["rm", "-f", "det"]).ok();
}
