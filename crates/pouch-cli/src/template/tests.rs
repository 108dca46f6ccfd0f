//! Unit tests of the template engine over an image inspect document.

use super::*;
use serde_json::json;

fn image() -> Value {
    json!({
        "Id": "sha256:0123456789abcdef",
        "RepoTags": ["busybox:latest", "busybox:1.36"],
        "RepoDigests": [],
        "Size": 4264123,
        "Parent": "",
        "Config": {
            "Env": ["PATH=/usr/bin:/bin", "A=b"],
            "Cmd": ["sh"],
            "Labels": {"z": "1", "a": "x y"},
            "Entrypoint": null,
            "Volumes": {},
            "ArgsEscaped": true
        },
        "RootFS": {"Type": "layers", "Layers": ["sha256:aa", "sha256:bb"]}
    })
}

fn render(t: &str) -> String {
    Template::parse(t).unwrap().render(&image()).unwrap()
}

#[test]
fn fields_and_text() {
    assert_eq!(render("{{.Id}}"), "sha256:0123456789abcdef");
    assert_eq!(
        render("id={{.Id}} size={{.Size}}!"),
        "id=sha256:0123456789abcdef size=4264123!"
    );
    assert_eq!(render("{{.RootFS.Type}}"), "layers");
    assert_eq!(render("{{ .Config.ArgsEscaped }}"), "true");
    assert_eq!(render("{{.Parent}}|"), "|");
}

#[test]
fn go_value_formatting() {
    assert_eq!(render("{{.Config.Env}}"), "[PATH=/usr/bin:/bin A=b]");
    assert_eq!(render("{{.Config.Labels}}"), "map[a:x y z:1]");
    assert_eq!(render("{{.Config.Volumes}}"), "map[]");
    assert_eq!(render("{{.RepoDigests}}"), "[]");
    assert_eq!(render("{{.Config.Entrypoint}}"), "<nil>");
    assert_eq!(render("{{.Missing}}"), "<no value>");
    assert_eq!(render("{{.Missing.Deeper}}"), "<no value>");
    assert_eq!(render("{{.Config.Entrypoint.X}}"), "<no value>");
    assert!(render("{{.}}").starts_with("map[Config:map[ArgsEscaped:true"));
}

#[test]
fn functions() {
    assert_eq!(render("{{json .Config.Cmd}}"), r#"["sh"]"#);
    assert_eq!(render("{{json .Config.Labels}}"), r#"{"a":"x y","z":"1"}"#);
    assert_eq!(render("{{json .Missing}}"), "null");
    assert_eq!(render("{{index .RepoTags 0}}"), "busybox:latest");
    assert_eq!(render("{{index .Config.Labels \"z\"}}"), "1");
    assert_eq!(render("{{index .Config.Labels \"nope\"}}"), "<nil>");
    assert_eq!(render("{{len .RepoTags}}"), "2");
    assert_eq!(
        render("{{join .RepoTags \", \"}}"),
        "busybox:latest, busybox:1.36"
    );
    assert_eq!(render("{{upper .RootFS.Type}}"), "LAYERS");
    assert_eq!(render("{{.RootFS.Type | upper}}"), "LAYERS");
    assert_eq!(render("{{title \"hello world\"}}"), "Hello World");
    assert_eq!(
        render("{{printf \"%s=%d\" .RootFS.Type .Size}}"),
        "layers=4264123"
    );
    assert_eq!(
        render("{{printf \"%-8s|%5d|%05d\" \"ab\" 42 -7}}"),
        "ab      |   42|-0007"
    );
    assert_eq!(render("{{printf \"%q\" .RootFS.Type}}"), "\"layers\"");
    assert_eq!(render("{{index (split .Id \":\") 1}}"), "0123456789abcdef");
    assert_eq!(render("{{truncate .Id 6}}"), "sha256");
    assert_eq!(render("{{pad .RootFS.Type 1 2}}|"), " layers  |");
    assert_eq!(render("{{print 1 2 \"a\" 3}}"), "1 2a3");
    assert_eq!(render("{{len (index .Config \"Env\")}}"), "2");
}

#[test]
fn control_structures() {
    assert_eq!(
        render("{{range .RepoTags}}{{.}} {{end}}"),
        "busybox:latest busybox:1.36 "
    );
    assert_eq!(
        render("{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}"),
        "0=busybox:latest;1=busybox:1.36;"
    );
    assert_eq!(
        render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}"),
        "a:x y,z:1,"
    );
    assert_eq!(render("{{range .RepoDigests}}x{{else}}none{{end}}"), "none");
    assert_eq!(render("{{range .Missing}}x{{end}}"), "");
    assert_eq!(
        render("{{if .Parent}}p{{else}}no parent{{end}}"),
        "no parent"
    );
    assert_eq!(
        render(
            "{{if eq .RootFS.Type \"x\"}}a{{else if eq .RootFS.Type \"layers\"}}b{{else}}c{{end}}"
        ),
        "b"
    );
    assert_eq!(render("{{with .Config}}{{.Cmd}}{{end}}"), "[sh]");
    assert_eq!(render("{{with .Nope}}x{{else}}y{{end}}"), "y");
    assert_eq!(render("{{if and .Size (gt .Size 1000)}}big{{end}}"), "big");
    assert_eq!(render("{{if not .Parent}}root{{end}}"), "root");
    assert_eq!(
        render("{{range .RepoTags}}{{$.Size}} {{end}}"),
        "4264123 4264123 "
    );
    assert_eq!(render("{{$x := .Size}}{{$x}}"), "4264123");
    assert_eq!(render("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
    assert_eq!(render("{{if ne .Size 0}}nonzero{{end}}"), "nonzero");
    assert_eq!(render("{{if lt 1 2.5}}lt{{end}}"), "lt");
}

#[test]
fn trimming_and_comments() {
    assert_eq!(render("a  {{- .RootFS.Type -}}  b"), "alayersb");
    assert_eq!(render("a {{/* hidden */}}b"), "a b");
    assert_eq!(render("a {{- /* hidden */ -}} b"), "ab");
    assert_eq!(
        render("{{range .RepoTags}}\n  {{- .}}\n{{end}}"),
        "busybox:latest\nbusybox:1.36\n"
    );
}

#[test]
fn errors() {
    assert!(matches!(
        Template::parse("{{.Id"),
        Err(TemplateError::Parse(_))
    ));
    assert!(matches!(
        Template::parse("{{nosuchfunc .Id}}"),
        Err(TemplateError::Parse(_))
    ));
    assert!(matches!(
        Template::parse("{{if .Id}}x"),
        Err(TemplateError::Parse(_))
    ));
    assert!(matches!(
        Template::parse("{{end}}"),
        Err(TemplateError::Parse(_))
    ));
    assert!(matches!(
        Template::parse("{{}}"),
        Err(TemplateError::Parse(_))
    ));
    let t = Template::parse("{{.Id.Foo}}").unwrap();
    assert!(matches!(t.render(&image()), Err(TemplateError::Exec(_))));
    let t = Template::parse("{{index .RepoTags 5}}").unwrap();
    assert!(matches!(t.render(&image()), Err(TemplateError::Exec(_))));
    let t = Template::parse("{{.Id 1}}").unwrap();
    assert!(matches!(t.render(&image()), Err(TemplateError::Exec(_))));
}
