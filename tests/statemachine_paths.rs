//! statemachines/README.md draws each path of statemachines/deploy.asl.json
//! as a Mermaid flowchart, so a reader can follow one path without the
//! others. This test keeps the drawings true to the definition:
//!
//! - every state (a Map's inner states too) is a node of some diagram, and
//!   every node is a state (a renamed state cannot linger in a drawing);
//! - every transition (`Next`, `Choices[].Next`, `Default`, `Catch[].Next`)
//!   is an edge of some diagram, a `Catch` drawn dotted (`-.->`) and the
//!   others solid (`-->`), and every edge is such a transition;
//! - a Map's inner states are drawn inside `subgraph <the Map state>`.
//!
//! It reads the two files and nothing else (no AWS, no cpsf module), and
//! reads Mermaid strictly: a line it does not understand fails the test
//! rather than being skipped, so no edge goes unchecked.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How a transition is taken: the state's own flow (`Next`, a Choice
/// rule, `Default`), or a `Catch` after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Flow,
    Catch,
}

type Edge = (String, String, Kind);

/// What a definition holds, as the diagrams must show it.
#[derive(Default)]
struct Machine {
    states: BTreeSet<String>,
    transitions: BTreeSet<Edge>,
    /// Each Map state's inner states.
    maps: BTreeMap<String, BTreeSet<String>>,
}

/// What the README's Mermaid blocks draw.
#[derive(Default, Debug)]
struct Drawing {
    /// Every node id: declared, in an edge, or a subgraph's.
    nodes: BTreeSet<String>,
    edges: BTreeSet<Edge>,
    /// (node, the subgraph it is drawn in).
    nested: BTreeSet<(String, String)>,
}

fn read(relative: &str) -> String {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The definition with each `${Name}` placeholder filled with `0`: the
/// ARNs become "0" and the bare `${DeployTimeoutSeconds}` a number, so the
/// file parses (statemachines/README.md, "Placeholders").
fn fill_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("unclosed placeholder at {}", &rest[start..]));
        out.push('0');
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn machine(asl: &str) -> Machine {
    let definition: Value =
        serde_json::from_str(&fill_placeholders(asl)).expect("the definition is JSON once filled");
    let mut machine = Machine::default();
    add_states(&definition, &mut machine);
    machine
}

/// Adds a `States` object's states and transitions, and those of any Map
/// or Parallel inside (state names are unique in the whole machine).
fn add_states(scope: &Value, machine: &mut Machine) -> BTreeSet<String> {
    let states = scope["States"].as_object().expect("States is an object");
    let mut names = BTreeSet::new();
    for (name, state) in states {
        names.insert(name.clone());
        assert!(
            machine.states.insert(name.clone()),
            "state {name} twice in the definition"
        );
        let mut to = |next: &Value, kind| {
            let next = next.as_str().expect("a Next is a state's name");
            machine
                .transitions
                .insert((name.clone(), next.to_string(), kind));
        };
        if let Some(next) = state.get("Next") {
            to(next, Kind::Flow);
        }
        for rule in state["Choices"].as_array().into_iter().flatten() {
            to(&rule["Next"], Kind::Flow);
        }
        if let Some(default) = state.get("Default") {
            to(default, Kind::Flow);
        }
        for catch in state["Catch"].as_array().into_iter().flatten() {
            to(&catch["Next"], Kind::Catch);
        }
        if let Some(processor) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            let inner = add_states(processor, machine);
            machine.maps.insert(name.clone(), inner);
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            add_states(branch, machine);
        }
    }
    names
}

/// The README's ```mermaid blocks, each with the line it starts on.
fn mermaid_blocks(readme: &str) -> Vec<(usize, Vec<&str>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (number, line) in readme.lines().enumerate() {
        match (&mut current, line.trim()) {
            (None, "```mermaid") => current = Some((number + 1, Vec::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, lines)), _) => lines.push(line),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "a ```mermaid block is not closed");
    blocks
}

fn drawing(readme: &str) -> Drawing {
    let mut drawing = Drawing::default();
    let blocks = mermaid_blocks(readme);
    assert!(
        !blocks.is_empty(),
        "statemachines/README.md has no ```mermaid block"
    );
    for (start, lines) in blocks {
        let mut subgraphs: Vec<String> = Vec::new();
        for (offset, line) in lines.iter().enumerate() {
            let at = format!("README.md line {}", start + offset + 1);
            read_line(line.trim(), &mut subgraphs, &mut drawing)
                .unwrap_or_else(|e| panic!("{at}: {e}: {line}"));
        }
        assert!(
            subgraphs.is_empty(),
            "the block at line {start} leaves subgraph {subgraphs:?} open"
        );
    }
    drawing
}

/// Lines that draw nothing this test checks.
const STYLING: [&str; 6] = [
    "classDef ",
    "class ",
    "style ",
    "linkStyle ",
    "direction ",
    "%%",
];

fn read_line(line: &str, subgraphs: &mut Vec<String>, drawing: &mut Drawing) -> Result<(), String> {
    if line.is_empty()
        || line.starts_with("flowchart ")
        || STYLING.iter().any(|s| line.starts_with(s))
    {
        return Ok(());
    }
    if line == "end" {
        return subgraphs
            .pop()
            .map(drop)
            .ok_or_else(|| "an end without a subgraph".into());
    }
    if let Some(rest) = line.strip_prefix("subgraph ") {
        // `subgraph Id ["title"]`: a space may precede the title.
        let (id, after) = node(rest.trim_start())?;
        let after = shape(after.trim_start())?;
        if !after.trim().is_empty() {
            return Err(format!("unexpected {after:?} after the subgraph's id"));
        }
        note_node(&id, subgraphs, drawing);
        subgraphs.push(id);
        return Ok(());
    }
    // A node, then any number of (arrow, node).
    let (mut from, mut rest) = node(line)?;
    note_node(&from, subgraphs, drawing);
    while !rest.trim().is_empty() {
        let (kind, after) = arrow(rest.trim_start())?;
        let (to, after) = node(after.trim_start())?;
        note_node(&to, subgraphs, drawing);
        drawing.edges.insert((from, to.clone(), kind));
        from = to;
        rest = after;
    }
    Ok(())
}

fn note_node(id: &str, subgraphs: &[String], drawing: &mut Drawing) {
    drawing.nodes.insert(id.to_string());
    if let Some(parent) = subgraphs.last() {
        drawing.nested.insert((id.to_string(), parent.clone()));
    }
}

/// A node id and its shape with a quoted label (`Id`, `Id["…"]`,
/// `Id{"…"}`, `Id(["…"])`, …); returns the id and what follows.
fn node(text: &str) -> Result<(String, &str), String> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if end == 0 {
        return Err(format!("expected a node id at {text:?}"));
    }
    let (id, rest) = text.split_at(end);
    let mut rest = shape(rest)?;
    if let Some(class) = rest.strip_prefix(":::") {
        let end = class.find(char::is_whitespace).unwrap_or(class.len());
        rest = &class[end..];
    }
    Ok((id.to_string(), rest))
}

/// Skips a node's shape and its label (`["…"]`, `{"…"}`, `(["…"])`, …),
/// if `text` starts with one; returns what follows.
fn shape(text: &str) -> Result<&str, String> {
    if !text.starts_with(['[', '(', '{']) {
        return Ok(text);
    }
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' | '(' | '{' if !quoted => depth += 1,
            ']' | ')' | '}' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Ok(&text[i + 1..]);
                }
            }
            _ => {}
        }
    }
    Err("a shape that is not closed".into())
}

/// An edge: `-->` or `-.->` (a Catch), each with an optional `|label|`, or
/// the labelled forms `-- label -->` and `-. label .->`; returns its kind
/// and what follows.
fn arrow(text: &str) -> Result<(Kind, &str), String> {
    let (kind, rest) = if let Some(rest) = text.strip_prefix("-.->") {
        (Kind::Catch, rest)
    } else if let Some(rest) = text.strip_prefix("-->") {
        (Kind::Flow, rest)
    } else if let Some(label) = text.strip_prefix("-. ") {
        let end = label.find(" .->").ok_or("a `-. label` without ` .->`")?;
        return Ok((Kind::Catch, &label[end + 4..]));
    } else if let Some(label) = text.strip_prefix("-- ") {
        let end = label.find(" -->").ok_or("a `-- label` without ` -->`")?;
        return Ok((Kind::Flow, &label[end + 4..]));
    } else {
        return Err(format!("expected --> or -.-> at {text:?}"));
    };
    match rest.strip_prefix('|') {
        Some(label) => {
            let end = label
                .find('|')
                .ok_or("an edge label without its closing |")?;
            Ok((kind, &label[end + 1..]))
        }
        None => Ok((kind, rest)),
    }
}

fn show(edge: &Edge) -> String {
    let arrow = match edge.2 {
        Kind::Flow => "-->",
        Kind::Catch => "-.->",
    };
    format!("{} {arrow} {}", edge.0, edge.1)
}

/// Every way the diagrams differ from the definition, in words.
fn differences(machine: &Machine, drawing: &Drawing) -> Vec<String> {
    let mut problems = Vec::new();
    for state in machine.states.difference(&drawing.nodes) {
        problems.push(format!("state {state} is in no diagram"));
    }
    for node in drawing.nodes.difference(&machine.states) {
        problems.push(format!(
            "a diagram draws {node}, which is no state of the definition"
        ));
    }
    for edge in machine.transitions.difference(&drawing.edges) {
        problems.push(format!("transition {} has no edge", show(edge)));
    }
    for edge in drawing.edges.difference(&machine.transitions) {
        let other_kind = machine
            .transitions
            .iter()
            .any(|(from, to, _)| (from, to) == (&edge.0, &edge.1));
        let why = if other_kind {
            "drawn as the wrong kind (a Catch is -.->, any other transition -->)"
        } else {
            "not a transition of the definition"
        };
        problems.push(format!("edge {} is {why}", show(edge)));
    }
    for (map, inner) in &machine.maps {
        for state in inner {
            if !drawing.nested.contains(&(state.clone(), map.clone())) {
                problems.push(format!(
                    "{state} runs inside the Map {map}: draw it inside `subgraph {map}`"
                ));
            }
        }
    }
    problems
}

#[test]
fn the_readme_diagrams_draw_every_state_and_transition_and_no_other() {
    let machine = machine(&read("statemachines/deploy.asl.json"));
    assert!(
        machine.states.len() > 10 && !machine.maps.is_empty(),
        "deploy.asl.json has {} states and no Map: not the definition this test knows",
        machine.states.len()
    );
    let drawing = drawing(&read("statemachines/README.md"));
    let problems = differences(&machine, &drawing);
    assert!(
        problems.is_empty(),
        "statemachines/README.md's diagrams and deploy.asl.json differ:\n  {}",
        problems.join("\n  ")
    );
}

/// The checks catch what they are for, on a small definition and drawing.
#[test]
fn a_missing_state_a_missing_edge_and_an_invented_edge_are_each_found() {
    let asl = r#"{"StartAt": "A", "TimeoutSeconds": ${T}, "States": {
        "A": {"Type": "Task", "Resource": "${R}", "Next": "B",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "M"}],
              "Default": "A"},
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
              "I": {"Type": "Pass", "End": true}}}, "End": true},
        "F": {"Type": "Fail"}}}"#;
    let machine = machine(asl);
    let complete = "```mermaid\nflowchart TD\n  subgraph M [\"M (Map)\"]\n    I([\"I\"])\n  end\n  \
                    A[\"A\"] --> B{\"B\"}\n  A -. error .-> F\n  B -->|x| M\n  B -- other --> A\n```\n";
    assert_eq!(
        differences(&machine, &drawing(complete)),
        Vec::<String>::new()
    );

    let without_catch = complete.replace("  A -. error .-> F\n", "");
    assert_eq!(
        differences(&machine, &drawing(&without_catch)),
        [
            "state F is in no diagram",
            "transition A -.-> F has no edge"
        ]
    );
    let catch_drawn_solid = complete.replace("A -. error .-> F", "A --> F");
    assert_eq!(
        differences(&machine, &drawing(&catch_drawn_solid)),
        [
            "transition A -.-> F has no edge",
            "edge A --> F is drawn as the wrong kind (a Catch is -.->, any other transition -->)",
        ]
    );
    let invented = complete.replace("B -- other --> A", "B -- other --> A --> M");
    assert_eq!(
        differences(&machine, &drawing(&invented)),
        ["edge A --> M is not a transition of the definition"]
    );
    let renamed = complete.replace("B -->|x| M", "B -->|x| M2");
    assert_eq!(
        differences(&machine, &drawing(&renamed)),
        [
            "a diagram draws M2, which is no state of the definition",
            "transition B --> M has no edge",
            "edge B --> M2 is not a transition of the definition",
        ]
    );
    let outside_map = complete
        .replace("    I([\"I\"])\n", "")
        .replace("  end\n", "  end\n  I\n");
    assert_eq!(
        differences(&machine, &drawing(&outside_map)),
        ["I runs inside the Map M: draw it inside `subgraph M`"]
    );
}

#[test]
#[should_panic(expected = "expected --> or -.->")]
fn an_edge_the_test_cannot_read_fails_rather_than_being_skipped() {
    drawing("```mermaid\nflowchart TD\n  A ==> B\n```\n");
}
