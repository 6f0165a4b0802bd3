//! The `crm-server` binary itself: subcommands and start-up checks.
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crm-server"))
}

#[test]
fn schema_subcommand_prints_the_checked_in_schema() {
    let out = bin().arg("schema").output().unwrap();
    assert!(out.status.success());
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), on_disk);
}

#[test]
fn production_refuses_to_start_without_a_jwt_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("serve")
        .env("APP_ENV", "production")
        .env_remove("JWT_SECRET")
        .env("DATA_DIR", dir.path())
        .env("BIND_ADDRESS", "127.0.0.1:0")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("JWT_SECRET"), "{log}");
}

#[test]
fn development_generates_and_keeps_a_secret_and_migrate_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .env_remove("JWT_SECRET")
            .env_remove("DATABASE_URL")
            .env_remove("APP_ENV")
            .env("DATA_DIR", dir.path().join("data"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = std::fs::read_to_string(dir.path().join("data/jwt-secret")).unwrap();
    assert!(secret.len() >= 32);
    assert!(dir.path().join("data/crm.db").exists());
    let status = run(&["migrate", "--status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("m20261127_000001_accounts"), "{text}");
    assert!(text.contains("Applied"), "{text}");
    // the secret survives restarts
    run(&["migrate"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/jwt-secret")).unwrap(),
        secret
    );
}
