//! Architecture tests: the dependency rules of DESIGN.md §2, checked on the
//! real workspace graph (and shown to fail on graphs that break them), and
//! the rule that a context's SQL touches only its own tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CONTEXTS: [&str; 5] = ["users", "catalog", "orders", "support", "orchestration"];

/// External crates an `-api` crate may use: plain data and trait plumbing.
const API_ALLOWED_EXTERNAL: [&str; 7] =
    ["serde", "serde_json", "uuid", "chrono", "thiserror", "async-trait", "mockall"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    App,
    Kernel,
    Api(String),
    Context(String),
    Unknown,
}

#[derive(Debug, Clone)]
struct Crate {
    name: String,
    role: Role,
    /// Dependencies of every kind (normal, dev, build): a test-only
    /// dependency on another context's internals is still coupling.
    dependencies: BTreeSet<String>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn role_of(relative_dir: &Path) -> Role {
    let parts: Vec<String> = relative_dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    match parts.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["app"] => Role::App,
        ["kernel"] => Role::Kernel,
        ["contexts", context] if CONTEXTS.contains(context) => Role::Context((*context).to_owned()),
        ["contexts", context, "api"] if CONTEXTS.contains(context) => Role::Api((*context).to_owned()),
        _ => Role::Unknown,
    }
}

fn real_graph() -> Vec<Crate> {
    let root = workspace_root();
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .exec()
        .expect("cargo metadata");
    metadata
        .workspace_packages()
        .into_iter()
        .map(|package| {
            let dir = package.manifest_path.parent().expect("package dir").as_std_path().to_path_buf();
            let relative = dir.strip_prefix(&root).expect("inside the workspace").to_path_buf();
            Crate {
                name: package.name.to_string(),
                role: role_of(&relative),
                dependencies: package.dependencies.iter().map(|d| d.name.clone()).collect(),
            }
        })
        .collect()
}

/// Every broken rule, as a sentence.
fn violations(graph: &[Crate]) -> Vec<String> {
    let roles: BTreeMap<&str, &Role> = graph.iter().map(|c| (c.name.as_str(), &c.role)).collect();
    let mut found = Vec::new();
    for krate in graph {
        for dependency in &krate.dependencies {
            let target = roles.get(dependency.as_str()).copied();
            let broken = match (&krate.role, target) {
                (Role::Unknown, _) => {
                    Some("is not a crate DESIGN.md §2 knows (app, kernel, contexts/<ctx>[/api])".to_owned())
                }
                (Role::App, _) => None,
                (Role::Kernel, Some(_)) => Some("the kernel must not depend on any context or the app".to_owned()),
                (Role::Context(own), Some(Role::Context(other))) if own != other => {
                    Some(format!("a context may use `{other}-api`, never the `{other}` implementation"))
                }
                (Role::Context(_), Some(Role::App)) => Some("only the app may sit on top".to_owned()),
                (Role::Context(own), Some(Role::Api(api))) if api == own => None,
                (Role::Context(_), Some(Role::Api(_) | Role::Kernel)) => None,
                (Role::Api(_), Some(Role::Kernel)) => None,
                (Role::Api(_), Some(_)) => {
                    Some("an api crate depends only on the kernel among workspace crates".to_owned())
                }
                (Role::Api(_), None) if !API_ALLOWED_EXTERNAL.contains(&dependency.as_str()) => {
                    Some("an api crate uses only plain data crates (no diesel, no actix)".to_owned())
                }
                (Role::Kernel, None) | (Role::Context(_), None) | (Role::Api(_), None) => None,
                (Role::Context(_), Some(Role::Context(_))) => None,
                (Role::Context(_), Some(Role::Unknown)) => Some("depends on a crate outside the design".to_owned()),
            };
            if let Some(reason) = broken {
                found.push(format!("{} → {dependency}: {reason}", krate.name));
            }
        }
    }
    found
}

#[test]
fn the_workspace_follows_the_dependency_rules() {
    let graph = real_graph();
    for context in CONTEXTS {
        assert!(graph.iter().any(|c| c.role == Role::Context(context.to_owned())), "{context} crate missing");
        assert!(graph.iter().any(|c| c.role == Role::Api(context.to_owned())), "{context}-api crate missing");
    }
    let broken = violations(&graph);
    assert!(broken.is_empty(), "dependency rules broken:\n{}", broken.join("\n"));
}

fn krate(name: &str, role: Role, dependencies: &[&str]) -> Crate {
    Crate { name: name.to_owned(), role, dependencies: dependencies.iter().map(|d| d.to_string()).collect() }
}

fn healthy_graph() -> Vec<Crate> {
    vec![
        krate("tienda", Role::App, &["kernel", "users", "catalog", "actix-web"]),
        krate("kernel", Role::Kernel, &["diesel", "actix-web"]),
        krate("users-api", Role::Api("users".into()), &["kernel", "serde"]),
        krate("users", Role::Context("users".into()), &["kernel", "users-api", "diesel"]),
        krate("catalog-api", Role::Api("catalog".into()), &["kernel"]),
        krate("catalog", Role::Context("catalog".into()), &["kernel", "catalog-api", "users-api"]),
    ]
}

#[test]
fn the_checker_accepts_a_healthy_graph() {
    assert_eq!(violations(&healthy_graph()), Vec::<String>::new());
}

#[test]
fn the_checker_catches_a_context_using_another_implementation() {
    let mut graph = healthy_graph();
    graph[5].dependencies.insert("users".into());
    assert_eq!(
        violations(&graph),
        vec!["catalog → users: a context may use `users-api`, never the `users` implementation"]
    );
}

#[test]
fn the_checker_catches_diesel_in_an_api_crate() {
    let mut graph = healthy_graph();
    graph[2].dependencies.insert("diesel".into());
    graph[4].dependencies.insert("actix-web".into());
    assert_eq!(violations(&graph).len(), 2, "{:?}", violations(&graph));
}

#[test]
fn the_checker_catches_the_kernel_reaching_up_and_stray_crates() {
    let mut graph = healthy_graph();
    graph[1].dependencies.insert("users-api".into());
    graph.push(krate("shared-utils", Role::Unknown, &["kernel"]));
    graph[3].dependencies.insert("shared-utils".into());
    let found = violations(&graph);
    assert_eq!(found.len(), 3, "{found:?}");
}

// ----- SQL ownership -----

/// Tables a context's migrations create.
fn tables_created_by(context: &str) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let dir = workspace_root().join("migrations").join(context);
    for backend in ["sqlite", "postgres"] {
        let Ok(migrations) = std::fs::read_dir(dir.join(backend)) else {
            continue;
        };
        for migration in migrations.flatten() {
            let Ok(sql) = std::fs::read_to_string(migration.path().join("up.sql")) else {
                continue;
            };
            let lowered = sql.to_lowercase();
            for statement in lowered.split("create table").skip(1) {
                let name = statement
                    .trim_start()
                    .trim_start_matches("if not exists")
                    .trim_start()
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default();
                tables.insert(name.to_owned());
            }
        }
    }
    tables
}

/// Tables named in `diesel::table!` blocks in a crate's sources.
fn tables_declared_in(dir: &Path) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap_or_default();
                for block in source.split("table! {").skip(1) {
                    let name = block.trim_start().split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or("");
                    tables.insert(name.to_owned());
                }
            }
        }
    }
    tables
}

#[test]
fn each_context_declares_only_its_own_tables() {
    let root = workspace_root();
    // The same unqualified name in two contexts (each one's outbox) is fine:
    // each is that context's own table, in its own schema or file.
    for context in CONTEXTS {
        let own = tables_created_by(context);
        let declared = tables_declared_in(&root.join("contexts").join(context).join("src"));
        let foreign: Vec<_> = declared.difference(&own).collect();
        assert!(foreign.is_empty(), "{context} declares tables its migrations do not create: {foreign:?}");
        let api_declared = tables_declared_in(&root.join("contexts").join(context).join("api"));
        assert!(api_declared.is_empty(), "{context}-api declares tables: {api_declared:?}");
    }
    assert!(tables_created_by("users").contains("accounts"));
}

#[test]
fn the_sql_ownership_check_sees_a_foreign_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("schema.rs"),
        "diesel::table! {\n    orders (id) {\n        id -> Text,\n    }\n}\n",
    )
    .expect("write");
    let declared = tables_declared_in(dir.path());
    assert_eq!(declared, BTreeSet::from(["orders".to_owned()]));
    assert!(!tables_created_by("users").contains("orders"));
}
