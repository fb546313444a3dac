//! `check-trace-logs DIR`: after the suite ran at TRACE into DIR, fails if any secret value the
//! tests sent appears in any log line.

#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        println!("usage: check-trace-logs DIR");
        return ExitCode::from(2);
    };
    let dir = std::path::Path::new(&dir);
    let secrets: BTreeSet<String> = std::fs::read_to_string(dir.join(gateway_testkit::SECRETS_FILE))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
        .collect();
    let mut logs = 0;
    let mut lines = 0usize;
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        logs += 1;
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        for (n, line) in text.lines().enumerate() {
            lines += 1;
            for s in &secrets {
                if line.contains(s.as_str()) {
                    leaks.push(format!("{}:{}: holds a secret the tests used", path.display(), n + 1));
                }
            }
        }
    }
    if secrets.is_empty() || logs == 0 || lines == 0 {
        println!(
            "check-trace-logs: nothing to check in {} ({} secrets, {logs} logs): the suite did not run at TRACE",
            dir.display(),
            secrets.len()
        );
        return ExitCode::FAILURE;
    }
    if leaks.is_empty() {
        println!(
            "check-trace-logs: {} secret values, {logs} TRACE logs, {lines} lines: no secret in any log",
            secrets.len()
        );
        ExitCode::SUCCESS
    } else {
        for l in &leaks {
            println!("{l}");
        }
        println!("check-trace-logs: {} log lines hold secrets", leaks.len());
        ExitCode::FAILURE
    }
}
