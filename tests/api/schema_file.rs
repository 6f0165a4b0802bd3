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
