//! Scenario files: every shipped scenario is valid, and broken ones are refused with errors that
//! name the field and say what is wrong.

use std::path::Path;

use lyceum_loadtest::scenario::{Scenario, ScenarioError};

const BASE: &str = r#"
name = "base"
targets = ["http://127.0.0.1:8080"]

[[phases]]
name = "steady"
duration = "10s"
arrival_rate = 10.0

[classroom]
rooms = 1
learners_per_room = 100
"#;

fn error_of(text: &str) -> String {
    match Scenario::from_toml("test.toml", text, &[]) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.name.is_empty());
            n += 1;
        }
    }
    assert!(
        n >= 7,
        "classroom small/medium/large, qa-storm, consultation, connection-storm, soak"
    );
}

#[test]
fn the_base_scenario_is_valid() {
    let s = Scenario::from_toml("base", BASE, &[]).expect("valid");
    assert_eq!(s.population(), 100);
    assert_eq!(s.window().as_secs(), 10);
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let e = error_of(&BASE.replace("rooms = 1", "rooms = 1\nroms = 2"));
    assert!(e.contains("unknown field `roms`"), "{e}");
    assert!(e.contains("line"), "{e}");
}

#[test]
fn negative_rates_are_refused() {
    let e = error_of(&BASE.replace("arrival_rate = 10.0", "arrival_rate = -1.0"));
    assert!(
        e.contains("phases[0] (steady).arrival_rate: must be a number >= 0"),
        "{e}"
    );
    let e = error_of(&format!(
        "{BASE}\n[classroom.instructor]\nbroadcast_rate = -5.0\n"
    ));
    assert!(e.contains("classroom.instructor.broadcast_rate"), "{e}");
}

#[test]
fn negative_counts_are_type_errors() {
    let e = error_of(&BASE.replace("rooms = 1", "rooms = -1"));
    assert!(e.contains("rooms"), "{e}");
}

#[test]
fn probabilities_must_be_probabilities_and_sum_to_at_most_one() {
    let e = error_of(&format!(
        "{BASE}\n[classroom.learners.actions]\nchat = 1.5\n"
    ));
    assert!(
        e.contains("actions.chat: a probability is between 0 and 1, not 1.5"),
        "{e}"
    );
    let e = error_of(&format!(
        "{BASE}\n[classroom.learners.actions]\nchat = 0.6\nvote = 0.6\n"
    ));
    assert!(e.contains("probabilities sum to 1.2, more than 1"), "{e}");
}

#[test]
fn missing_targets_are_refused_unless_given_on_the_command_line() {
    let text = BASE.replace("targets = [\"http://127.0.0.1:8080\"]", "");
    let e = error_of(&text);
    assert!(
        e.contains("targets: at least one target URL is needed"),
        "{e}"
    );
    let s = Scenario::from_toml("t", &text, &["http://10.0.0.1:9000".into()]).expect("valid");
    assert_eq!(s.targets, ["http://10.0.0.1:9000"]);
    let e = error_of(&BASE.replace("http://127.0.0.1:8080", "ws://127.0.0.1:8080"));
    assert!(e.contains("is not an http://host:port URL"), "{e}");
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = BASE
        .replace("duration = \"10s\"", "duration = \"0s\"")
        .replace("rooms = 1", "rooms = 1\nconnections_per_user = 0");
    let e = Scenario::from_toml("t", &text, &[]).expect_err("refused");
    let ScenarioError::Invalid { problems, .. } = e else {
        panic!("not a validation error: {e}");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.contains("duration: must be more than 0"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("connections_per_user: must be at least 1"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("brings in 0 learners, fewer than"))
    );
}

#[test]
fn rules_between_fields_are_checked() {
    let e = error_of(&format!(
        "{BASE}\n[classroom.learners.actions]\npoll_vote = 0.5\n"
    ));
    assert!(e.contains("needs classroom.instructor.poll_every"), "{e}");
    let e = error_of(&format!(
        "{BASE}\n[classroom.instructor]\npayload_bytes = 5000\n"
    ));
    assert!(e.contains("payload_bytes: must be from"), "{e}");
    let e = error_of(&format!(
        "{BASE}\n[classroom.learners]\nthink_time = {{ distribution = \"uniform\", min = \"3s\", max = \"1s\" }}\n"
    ));
    assert!(e.contains("min <= max"), "{e}");
    let e = error_of(&format!(
        "{BASE}\n[classroom.learners]\nthink_time = {{ distribution = \"gaussian\", mean = \"1s\" }}\n"
    ));
    assert!(e.contains("gaussian"), "{e}");
    let e = error_of(&format!(
        "{BASE}\n[network]\nsource_range = \"127.0.0.9-127.0.0.1\"\n"
    ));
    assert!(e.contains("network.source_range"), "{e}");
    let e = error_of(&format!("{BASE}\n[thresholds]\nmax_loss_ratio = 2.0\n"));
    assert!(
        e.contains("thresholds.max_loss_ratio: must be between 0 and 1"),
        "{e}"
    );
    let e = error_of(&BASE.replace("duration = \"10s\"", "duration = \"10 parsecs\""));
    assert!(e.contains("not a unit"), "{e}");
}
