//! The desktop app's command line: which data dir to open.
//!
//! Deliberately small and forgiving: the desktop file starts the app as
//! `cohort-desktop %u`, so a `cohort://…` URL may be the only argument, and anything the
//! shell does not know is left to Tauri's plugins (the deep-link plugin reads the URL).

use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable naming the data dir (the `--data-dir` flag wins over it).
pub const DATA_DIR_ENV: &str = "COHORT_DATA_DIR";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `--data-dir PATH` or `COHORT_DATA_DIR`; `None` means the platform default.
    pub data_dir: Option<PathBuf>,
    /// `--no-sample`: do not create the sample course on first launch.
    pub no_sample: bool,
    /// `--offline`: do not start the sync node (no listening, no connections).
    pub offline: bool,
    /// `--no-mdns`: do not announce or discover peers on the local network.
    pub no_mdns: bool,
    /// `--gpu-compositing`: let the web view composite the page with the GPU (Linux:
    /// WebKitGTK's default, which Cohort turns off; see `main.rs`).
    pub gpu_compositing: bool,
}

/// What to do instead of starting the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// `--help`: print the usage and exit successfully.
    Help,
    /// `--version`: print the version and exit successfully.
    Version,
    /// A malformed command line: print this message and the usage, exit with an error.
    Usage(String),
}

/// The text `--help` prints.
pub const USAGE: &str = "\
Cohort: study together, on your own devices.

Usage: cohort-desktop [--data-dir PATH] [--no-sample] [--offline] [--no-mdns]
                      [--gpu-compositing] [cohort://join/<ticket>]

Options:
  --data-dir PATH   open this data dir (default: $COHORT_DATA_DIR, else the platform's
                    data dir, e.g. ~/.local/share/cohort)
  --no-sample       do not create the sample course on first launch
  --offline         do not sync: no listening, no connections (edits stay on this device
                    until a later launch without --offline)
  --no-mdns         do not announce this device or look for peers on the local network
  --gpu-compositing composite the window's content with the GPU (Linux; uses more
                    memory; the default paints it without accelerated compositing)
  -h, --help        print this help
  -V, --version     print the version
";

impl Options {
    /// Parses the arguments after the program name; `env_data_dir` is `COHORT_DATA_DIR`.
    ///
    /// Unknown flags are errors; other positional arguments (a deep link) are left to the
    /// deep-link plugin, which reads them itself.
    pub fn parse<I>(args: I, env_data_dir: Option<OsString>) -> Result<Options, Exit>
    where
        I: IntoIterator<Item = OsString>,
    {
        let mut options = Options {
            data_dir: env_data_dir.filter(|d| !d.is_empty()).map(PathBuf::from),
            no_sample: false,
            offline: false,
            no_mdns: false,
            gpu_compositing: false,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(text) = arg.to_str() else {
                // A positional that is not UTF-8 cannot be a flag or a deep link.
                continue;
            };
            match text {
                "-h" | "--help" => return Err(Exit::Help),
                "-V" | "--version" => return Err(Exit::Version),
                "--no-sample" => options.no_sample = true,
                "--offline" => options.offline = true,
                "--no-mdns" => options.no_mdns = true,
                "--gpu-compositing" => options.gpu_compositing = true,
                "--data-dir" => {
                    let dir = args
                        .next()
                        .filter(|d| !d.is_empty())
                        .ok_or_else(|| Exit::Usage("--data-dir needs a path".to_owned()))?;
                    options.data_dir = Some(PathBuf::from(dir));
                }
                _ => {
                    if let Some(dir) = text.strip_prefix("--data-dir=") {
                        if dir.is_empty() {
                            return Err(Exit::Usage("--data-dir needs a path".to_owned()));
                        }
                        options.data_dir = Some(PathBuf::from(dir));
                    } else if text.starts_with('-') {
                        return Err(Exit::Usage(format!("unknown option {text}")));
                    }
                }
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Options, Exit> {
        Options::parse(args.iter().map(OsString::from), env.map(OsString::from))
    }

    #[test]
    fn defaults_to_the_platform_data_dir() {
        assert_eq!(parse(&[], None), Ok(Options::default()));
        assert_eq!(parse(&[], Some("")), Ok(Options::default()));
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let o = parse(&["--data-dir", "/a"], Some("/b")).expect("parses");
        assert_eq!(o.data_dir, Some(PathBuf::from("/a")));
        let o = parse(&["--data-dir=/c"], Some("/b")).expect("parses");
        assert_eq!(o.data_dir, Some(PathBuf::from("/c")));
        let o = parse(&[], Some("/b")).expect("parses");
        assert_eq!(o.data_dir, Some(PathBuf::from("/b")));
    }

    #[test]
    fn a_deep_link_is_left_alone() {
        let o = parse(&["cohort://join/cohort1abc"], None).expect("parses");
        assert_eq!(o, Options::default());
        let o = parse(&["--no-sample", "cohort://join/x"], None).expect("parses");
        assert!(o.no_sample);
    }

    #[test]
    fn network_flags_are_read() {
        let o = parse(&["--offline"], None).expect("parses");
        assert!(o.offline && !o.no_mdns);
        let o = parse(&["--no-mdns"], None).expect("parses");
        assert!(o.no_mdns && !o.offline);
    }

    #[test]
    fn gpu_compositing_is_off_unless_asked_for() {
        assert!(!parse(&[], None).expect("parses").gpu_compositing);
        let o = parse(&["--gpu-compositing"], None).expect("parses");
        assert!(o.gpu_compositing && !o.offline);
    }

    #[test]
    fn malformed_command_lines_are_reported() {
        assert!(matches!(parse(&["--data-dir"], None), Err(Exit::Usage(_))));
        assert!(matches!(parse(&["--data-dir="], None), Err(Exit::Usage(_))));
        assert!(matches!(
            parse(&["--data-dir", ""], None),
            Err(Exit::Usage(_))
        ));
        assert_eq!(
            parse(&["--frobnicate"], None),
            Err(Exit::Usage("unknown option --frobnicate".to_owned()))
        );
        assert_eq!(parse(&["-h"], None), Err(Exit::Help));
        assert_eq!(parse(&["--version"], None), Err(Exit::Version));
    }
}
