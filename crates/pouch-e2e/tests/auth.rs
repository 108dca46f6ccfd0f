//! Registry authentication end to end: a basic-auth (htpasswd) registry and a bearer-token
//! registry (the token-auth proxy): pulls fail without credentials, `pouch login` stores
//! them in `~/.pouch/config.json`, pulls then work, and `pouch logout` forgets them.

use pouch_e2e::proxy::Proxy;
use pouch_e2e::{fixtures, setup, Daemon, Must, RegistryOptions};

fn config_json(d: &Daemon) -> serde_json::Value {
    let p = d.client_home().join(".pouch/config.json");
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

fn has_auth_for(d: &Daemon, host: &str) -> bool {
    let p = d.client_home().join(".pouch/config.json");
    if !p.exists() {
        return false;
    }
    config_json(d)["auths"]
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k.contains(host)))
}

/// The shared flow: no credentials -> refused; wrong password -> login fails; login ->
/// pull works; logout -> credentials gone and pulls refused again.
fn login_pull_logout(d: &Daemon, host: &str, user: &str, password: &str) {
    let name = format!("{host}/library/busybox:latest");
    let img = fixtures::busybox();

    d.pouch(&["pull", &name]).fails_unauthorized();
    d.pouch(&["login", "-u", user, "-p", "wrong-password", host])
        .fails();
    assert!(!has_auth_for(d, host), "a failed login stored credentials");

    d.pouch(&["login", "-u", user, "-p", password, host])
        .ok()
        .says("login succeeded");
    assert!(
        has_auth_for(d, host),
        "login did not store credentials in ~/.pouch/config.json"
    );

    d.pouch(&["pull", &name]).ok();
    assert_eq!(d.inspect(&name)["Id"], img.id());

    d.pouch(&["logout", host]).ok();
    assert!(!has_auth_for(d, host), "logout left credentials behind");
    d.pouch(&["rmi", &name]).ok();
    d.pouch(&["pull", &name]).fails_unauthorized();
}

#[test]
fn basic_auth_registry_login_pull_logout() {
    let Some(bins) = setup::e2e("basic_auth_registry_login_pull_logout") else {
        return;
    };
    let reg = setup::busybox_registry(RegistryOptions::with_basic_auth("alice", "s3cret"));
    let d = setup::daemon(&bins);
    login_pull_logout(&d, &reg.host(), "alice", "s3cret");
}

#[test]
fn token_auth_registry_login_pull_logout() {
    let Some(bins) = setup::e2e("token_auth_registry_login_pull_logout") else {
        return;
    };
    let reg = setup::busybox_registry(RegistryOptions::default());
    let proxy = Proxy::token_auth(&reg.url(), "bob", "hunter2").must("start the proxy");
    let d = setup::daemon(&bins);
    login_pull_logout(&d, &proxy.host(), "bob", "hunter2");
    assert!(
        proxy.tokens_issued() >= 2,
        "pouchd should have fetched tokens (login and pull), got {}",
        proxy.tokens_issued()
    );
}
