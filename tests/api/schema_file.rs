/// `schema.graphql` is generated from the code; regenerate it with
/// `cargo run -- schema > schema.graphql`.
#[test]
fn schema_file_matches_the_code() {
    let generated = crm_server::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

/// The README's error table lists exactly the codes the server answers.
#[test]
fn the_readme_lists_every_error_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("## Error codes")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let mut listed: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| l.split('|').nth(1).unwrap().split(','))
        .map(|c| c.trim().trim_matches('`'))
        .collect();
    listed.sort_unstable();
    let mut codes = crm_server::error::codes::ALL.to_vec();
    codes.sort_unstable();
    assert_eq!(listed, codes);
}
