//! `pouch top CONTAINER [ps OPTIONS]`: the container's processes as the daemon's `ps` shows
//! them, in docker's tabwriter layout (columns at least 20 wide, 3 spaces apart).

use pouch_api::container::ContainerTopResponse;
use pouch_client::Client;

use super::format::tabwrite;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct TopArgs {
    /// The container
    pub container: String,
    /// Options for ps (default: -ef)
    #[arg(allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// The table text: titles, then one line per process.
pub fn render(top: &ContainerTopResponse) -> String {
    let mut text = top.titles.join("\t");
    text.push('\n');
    for p in &top.processes {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    tabwrite(&text, 20, 3)
}

pub async fn run(client: &Client, args: TopArgs) -> anyhow::Result<()> {
    let ps_args = args.ps_args.join(" ");
    let ps_args = (!ps_args.is_empty()).then_some(ps_args.as_str());
    let top = client.container_top(&args.container, ps_args).await?;
    print!("{}", render(&top));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_like_docker() {
        let top = ContainerTopResponse {
            titles: vec!["UID".into(), "PID".into(), "PPID".into(), "CMD".into()],
            processes: vec![
                vec![
                    "root".into(),
                    "4242".into(),
                    "4220".into(),
                    "sleep 1000".into(),
                ],
                vec!["root".into(), "4300".into(), "4242".into(), "sh".into()],
            ],
        };
        let expected = "\
UID                 PID                 PPID                CMD
root                4242                4220                sleep 1000
root                4300                4242                sh
";
        assert_eq!(render(&top), expected);
    }
}
