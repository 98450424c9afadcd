use super::*;

fn vars(text: &str) -> BTreeMap<String, String> {
    parse(text, Path::new("p8sync.toml"))
        .unwrap()
        .into_iter()
        .map(|s| (s.var, s.value.expose().to_string()))
        .collect()
}

fn error(text: &str) -> String {
    parse(text, Path::new("p8sync.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn keys_are_variable_names_in_lower_case_without_the_prefix() {
    let v = vars(
        r#"
listen = "0.0.0.0:8080"
database_url = "postgres://p8@db/app"
s3_bucket = "files"
pg_port = 5433
no_migrate = true
google_drive_client_id = "id.apps"
"#,
    );
    assert_eq!(v["P8_LISTEN"], "0.0.0.0:8080");
    assert_eq!(v["DATABASE_URL"], "postgres://p8@db/app");
    assert_eq!(v["P8_S3_BUCKET"], "files");
    assert_eq!(v["P8_PG_PORT"], "5433");
    assert_eq!(v["P8_NO_MIGRATE"], "true");
    assert_eq!(v["P8_GOOGLE_DRIVE_CLIENT_ID"], "id.apps");
    assert_eq!(v.len(), 6);
}

#[test]
fn one_level_of_tables_joins_with_an_underscore() {
    let v = vars(
        r#"
s3.url = "http://minio:9000"

[pg]
host = "db"
password = "pw"

[google_drive]
api_base = "http://fake"
"#,
    );
    assert_eq!(v["P8_PG_HOST"], "db");
    assert_eq!(v["P8_PG_PASSWORD"], "pw");
    assert_eq!(v["S3_URL"], "http://minio:9000");
    assert_eq!(v["P8_GOOGLE_DRIVE_API_BASE"], "http://fake");

    let e = error("[pg.extra]\nhost = \"db\"\n");
    assert!(e.contains("`pg.extra`"), "{e}");
    assert!(e.contains("one level"), "{e}");
}

#[test]
fn arrays_join_with_commas_like_the_variables() {
    let v = vars(
        r#"
ingest_routes = [".md=text", "audio/*=audio"]
google_drive_scopes = ["openid", "email"]
google_drive_allowed_hosts = ["*.googleusercontent.com"]
encryption_previous_keys = "k1,k2"
"#,
    );
    assert_eq!(v["P8_INGEST_ROUTES"], ".md=text,audio/*=audio");
    assert_eq!(v["P8_GOOGLE_DRIVE_SCOPES"], "openid,email");
    assert_eq!(
        v["P8_GOOGLE_DRIVE_ALLOWED_HOSTS"],
        "*.googleusercontent.com"
    );
    assert_eq!(v["P8_ENCRYPTION_PREVIOUS_KEYS"], "k1,k2");
    // What the readers make of them.
    let routes = crate::ingest::route::Routes::parse(&v["P8_INGEST_ROUTES"]);
    assert!(routes.is_ok(), "{routes:?}");
    let overrides = crate::config::OperatorOverrides::from_vars(v.clone());
    assert_eq!(overrides.get("google_drive").scopes, ["openid", "email"]);

    let e = error("ingest_routes = [\".md=text\", 3]\n");
    assert!(
        e.contains("array of strings, not an array holding a integer"),
        "{e}"
    );
    let e = error("ingest_routes = [\".md=text,.txt=text\"]\n");
    assert!(e.contains("comma"), "{e}");
}

#[test]
fn an_unknown_key_is_named_with_its_place_and_the_valid_ones() {
    let e = error("listen = \"x\"\n\n[pg]\nhots = \"db\"\n");
    assert!(e.contains("p8sync.toml"), "{e}");
    assert!(
        e.contains("unknown key `pg.hots` (line 4, column 1)"),
        "{e}"
    );
    assert!(e.contains("valid keys: data_dir, "), "{e}");
    assert!(e.contains("pg_host"), "{e}");
    assert!(e.contains("<provider>_client_secret"), "{e}");
    // Keys are lower case, like the rule says.
    assert!(error("P8_LISTEN = \"x\"").contains("unknown key `P8_LISTEN`"));
    // The file cannot name another file.
    assert!(error("config = \"other.toml\"").contains("unknown key `config`"));
}

#[test]
fn a_value_of_the_wrong_type_is_refused_without_showing_it() {
    let e = error("pg_password = 12345\n");
    assert!(
        e.contains("`pg_password` (line 1, column 1) must be a string, not integer"),
        "{e}"
    );
    assert!(!e.contains("12345"), "{e}");
    let e = error("pg_port = \"5432\"\n");
    assert!(e.contains("must be an integer, not string"), "{e}");
    let e = error("allow_private_networks = 1\n");
    assert!(e.contains("must be true or false"), "{e}");
    let e = error("provider_timeout_secs = 1.5\n");
    assert!(e.contains("not float"), "{e}");
}

#[test]
fn a_syntax_error_gives_the_line_and_column_but_not_the_text() {
    let e = error("listen = \"ok\"\npg_password = \"s3cr3t\n");
    assert!(
        e.contains("p8sync.toml is not valid TOML (line 2, column"),
        "{e}"
    );
    assert!(!e.contains("s3cr3t"), "{e}");
}

#[test]
fn the_same_setting_twice_is_refused() {
    let e = error("pg_host = \"a\"\n[pg]\nhost = \"b\"\n");
    assert!(e.contains("sets `pg.host` twice (line 3, column 1)"), "{e}");
}

#[test]
fn the_environment_wins_over_the_file() {
    let settings = parse(
        "listen = \"0.0.0.0:9000\"\npg_host = \"db\"\n",
        Path::new("p8sync.toml"),
    )
    .unwrap();
    let left = not_already_set(settings, |var| var == "P8_LISTEN");
    let names: Vec<&str> = left.iter().map(|s| s.var.as_str()).collect();
    assert_eq!(names, ["P8_PG_HOST"]);
}

#[test]
fn values_never_print() {
    let settings = parse("pg_password = \"s3cr3t\"", Path::new("p8sync.toml")).unwrap();
    assert!(!format!("{settings:?}").contains("s3cr3t"));
}

#[test]
fn a_missing_file_is_named() {
    let e = read(Path::new("/nonexistent/p8sync.toml")).unwrap_err();
    assert!(matches!(e, FileError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/p8sync.toml"), "{e}");
}

#[test]
fn the_file_is_found_on_the_command_line_or_in_the_environment() {
    let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
    let env = Some(OsString::from("env.toml"));
    assert_eq!(
        path_from(
            args(&["p8sync", "--config-file", "a.toml", "serve"]),
            env.clone()
        ),
        Some(PathBuf::from("a.toml"))
    );
    assert_eq!(
        path_from(
            args(&["p8sync", "serve", "--config-file=b.toml"]),
            env.clone()
        ),
        Some(PathBuf::from("b.toml"))
    );
    assert_eq!(
        path_from(args(&["p8sync", "sync", "--config", "id"]), env.clone()),
        Some(PathBuf::from("env.toml"))
    );
    assert_eq!(
        path_from(args(&["p8sync", "list", "--", "--config-file", "x"]), None),
        None
    );
    assert_eq!(path_from(args(&["p8sync"]), Some("".into())), None);
}

#[test]
fn the_key_table_is_consistent() {
    let mut seen = std::collections::BTreeSet::new();
    for (var, _) in SETTINGS {
        let key = key_of(var);
        assert!(seen.insert(key.clone()), "two settings share the key {key}");
        // A plain setting must not read as a per-provider one.
        for suffix in PROVIDER_SETTINGS {
            assert!(!var.ends_with(&format!("_{suffix}")), "{var}");
        }
        assert_eq!(lookup(&key).map(|(v, _)| v).as_deref(), Some(*var));
    }
}
