//! A picture of the state machine with the path an execution took: visited
//! states green, the failed state red, states not reached grey, the edges
//! taken bold, failed attempts counted on their state, Catch edges dashed.
//! A Map state is one node, with how often it ran and its iterations (a
//! rollout's DeployWave: its waves and their targets), not a node per
//! iteration.
//!
//! The graph and its DOT and Mermaid texts are pure; SVG is laid out by the
//! `layout-rs` crate from the DOT text, and PNG rasterized from that SVG by
//! `resvg`.

use super::event::Event;
use super::timeline::timeline;
use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::HashMap;
use std::collections::HashSet;
use std::path::Path;

const VISITED: &str = "#c8f7c5";
const FAILED: &str = "#f4b6b6";
const NOT_REACHED: &str = "#eeeeee";
const TAKEN: &str = "#1b5e20";
const NOT_TAKEN: &str = "#9e9e9e";

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub kind: String,
    pub visited: bool,
    pub failed: bool,
    pub failed_attempts: usize,
    /// A Map state: how many times it ran, and its iterations in all.
    pub map_runs: usize,
    pub map_iterations: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// "", "choice", "default" or "catch".
    pub label: &'static str,
    pub taken: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The top-level states of `definition` (ASL JSON) marked with the path of
/// `events` (oldest first).
pub fn build(definition: &Value, events: &[Event]) -> anyhow::Result<Graph> {
    let states = definition["States"]
        .as_object()
        .context("the definition has no States")?;
    // The states inside a Map's iterations are not nodes of this graph:
    // the path between top-level states skips them.
    let steps: Vec<_> = timeline(events)
        .into_iter()
        .filter(|s| states.contains_key(&s.state))
        .collect();
    let maps = map_counts(events);
    let visited: HashSet<&str> = steps.iter().map(|s| s.state.as_str()).collect();
    let taken: HashSet<(&str, &str)> = steps
        .windows(2)
        .map(|w| (w[0].state.as_str(), w[1].state.as_str()))
        .collect();
    let nodes = states
        .iter()
        .map(|(name, state)| Node {
            name: name.clone(),
            kind: state["Type"].as_str().unwrap_or("?").to_string(),
            visited: visited.contains(name.as_str()),
            failed: steps.iter().any(|s| s.failed && &s.state == name),
            failed_attempts: steps
                .iter()
                .filter(|s| &s.state == name)
                .map(|s| s.failed_attempts.len())
                .sum(),
            map_runs: maps.get(name.as_str()).map_or(0, |m| m.0),
            map_iterations: maps.get(name.as_str()).map_or(0, |m| m.1),
        })
        .collect();
    let mut edges = Vec::new();
    for (name, state) in states {
        let mut add = |to: Option<&str>, label: &'static str| {
            if let Some(to) = to {
                edges.push(Edge {
                    from: name.clone(),
                    to: to.to_string(),
                    label,
                    taken: taken.contains(&(name.as_str(), to)),
                });
            }
        };
        add(state["Next"].as_str(), "");
        for choice in state["Choices"].as_array().into_iter().flatten() {
            add(choice["Next"].as_str(), "choice");
        }
        add(state["Default"].as_str(), "default");
        for catcher in state["Catch"].as_array().into_iter().flatten() {
            add(catcher["Next"].as_str(), "catch");
        }
    }
    // One edge per pair: the first label wins (a Choice may list a target twice).
    let mut seen = HashSet::new();
    edges.retain(|e| seen.insert((e.from.clone(), e.to.clone())));
    Ok(Graph { nodes, edges })
}

/// For each Map state: (times it ran, iterations in all). AWS records each
/// iteration (`MapIterationStarted`); where a history has none (MiniStack),
/// the tasks scheduled while the Map ran count its iterations, one task
/// each, as in a rollout's DeployWave.
pub fn map_counts(events: &[Event]) -> HashMap<String, (usize, usize)> {
    let mut counts: HashMap<String, (usize, usize, usize)> = HashMap::new();
    let mut open: Vec<String> = Vec::new();
    for event in events {
        match event.kind.as_str() {
            "MapStateEntered" => {
                let name = event.state.clone().unwrap_or_default();
                counts.entry(name.clone()).or_default().0 += 1;
                open.push(name);
            }
            "MapStateExited" => {
                open.pop();
            }
            "MapIterationStarted" => {
                if let Some(map) = open.last() {
                    counts.entry(map.clone()).or_default().1 += 1;
                }
            }
            "TaskScheduled" | "ActivityScheduled" => {
                if let Some(map) = open.last() {
                    counts.entry(map.clone()).or_default().2 += 1;
                }
            }
            _ => {}
        }
    }
    counts
        .into_iter()
        .map(|(name, (runs, iterations, tasks))| {
            (
                name,
                (runs, if iterations > 0 { iterations } else { tasks }),
            )
        })
        .collect()
}

fn label(node: &Node) -> String {
    let mut said = vec![node.kind.clone()];
    if node.map_runs > 0 {
        let runs = match node.map_runs {
            1 => "ran once".to_string(),
            n => format!("ran {n} times"),
        };
        said.push(format!("{runs}, {} iterations", node.map_iterations));
    }
    match node.failed_attempts {
        0 => {}
        1 => said.push("1 failed attempt".into()),
        n => said.push(format!("{n} failed attempts")),
    }
    format!("{} ({})", node.name, said.join(", "))
}

fn fill(node: &Node) -> &'static str {
    if node.failed {
        FAILED
    } else if node.visited {
        VISITED
    } else {
        NOT_REACHED
    }
}

/// Graphviz DOT.
pub fn dot(graph: &Graph) -> String {
    let id = |name: &str| format!("\"{}\"", name.replace('"', "'"));
    let mut out = String::from("digraph execution {\n");
    for node in &graph.nodes {
        out.push_str(&format!(
            "  {} [shape=box, style=filled, fillcolor=\"{}\", label=\"{}\"];\n",
            id(&node.name),
            fill(node),
            label(node).replace('"', "'")
        ));
    }
    for edge in &graph.edges {
        let mut attrs = vec![format!(
            "color=\"{}\"",
            if edge.taken { TAKEN } else { NOT_TAKEN }
        )];
        if edge.taken {
            attrs.push("penwidth=3".into());
        }
        if edge.label == "catch" {
            attrs.push("style=dashed".into());
        }
        if !edge.label.is_empty() {
            attrs.push(format!("label=\"{}\"", edge.label));
        }
        out.push_str(&format!(
            "  {} -> {} [{}];\n",
            id(&edge.from),
            id(&edge.to),
            attrs.join(", ")
        ));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart (renders in GitHub Markdown).
pub fn mermaid(graph: &Graph) -> String {
    let id = |name: &str| {
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    let mut out = String::from("flowchart TD\n");
    for node in &graph.nodes {
        let class = if node.failed {
            "failed"
        } else if node.visited {
            "visited"
        } else {
            "notReached"
        };
        out.push_str(&format!(
            "  {}[\"{}\"]:::{class}\n",
            id(&node.name),
            label(node).replace('"', "'")
        ));
    }
    let mut taken = Vec::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let arrow = match (edge.label, edge.label.is_empty()) {
            ("catch", _) => "-. catch .->".to_string(),
            (_, true) => "-->".to_string(),
            (label, false) => format!("-- {label} -->"),
        };
        out.push_str(&format!("  {} {arrow} {}\n", id(&edge.from), id(&edge.to)));
        if edge.taken {
            taken.push(i.to_string());
        }
    }
    out.push_str(&format!("  classDef visited fill:{VISITED}\n  classDef failed fill:{FAILED}\n  classDef notReached fill:{NOT_REACHED},color:#777\n"));
    if !taken.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:{TAKEN},stroke-width:3px\n",
            taken.join(",")
        ));
    }
    out
}

/// SVG, laid out from the DOT text.
pub fn svg(graph: &Graph) -> anyhow::Result<String> {
    let text = dot(graph);
    let mut parser = layout::gv::DotParser::new(&text);
    let ast = parser
        .process()
        .map_err(|e| anyhow::anyhow!("laying out the graph: {e}"))?;
    let mut builder = layout::gv::GraphBuilder::new();
    builder.visit_graph(&ast);
    let mut visual = builder.get();
    let mut writer = layout::backends::svg::SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    Ok(writer.finalize())
}

/// Font families tried for labels, in order; else any installed face.
const FONTS: &[&str] = &[
    "DejaVu Sans",
    "Liberation Sans",
    "Arial",
    "Helvetica",
    "Noto Sans",
];

/// PNG, rasterized from the SVG with the system's fonts.
pub fn png(svg: &str) -> anyhow::Result<Vec<u8>> {
    let mut options = resvg::usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    let families: Vec<String> = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    let family = FONTS
        .iter()
        .find(|f| families.iter().any(|have| have == *f))
        .map(|f| f.to_string())
        .or_else(|| families.first().cloned());
    match family {
        // The SVG asks for a serif face; any installed one reads better
        // than none.
        Some(family) => {
            fonts.set_serif_family(family.clone());
            fonts.set_sans_serif_family(family.clone());
            options.font_family = family;
        }
        None => tracing::warn!(
            "no fonts installed: the PNG's labels will be missing (install fonts-dejavu-core, or use .svg)"
        ),
    }
    let tree = resvg::usvg::Tree::from_str(svg, &options).context("reading the SVG")?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .context("the picture is empty")?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().context("encoding the PNG")
}

/// Writes the graph in the format the file's extension names.
pub fn write(graph: &Graph, path: &Path) -> anyhow::Result<()> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let bytes = match extension {
        "dot" | "gv" => dot(graph).into_bytes(),
        "mmd" => mermaid(graph).into_bytes(),
        "svg" => svg(graph)?.into_bytes(),
        "png" => png(&svg(graph)?)?,
        other => bail!(
            "--graph {}: use .svg, .png, .dot or .mmd (not '{other}')",
            path.display()
        ),
    };
    std::fs::write(path, bytes).with_context(|| format!("could not write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::event::Event;

    fn history(name: &str) -> Vec<Event> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/histories");
        Event::from_aws_json(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap()
    }

    /// The retried-then-failed execution, with the definition it ran.
    fn recorded() -> Graph {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/histories");
        let definition: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("failed-after-retries.definition.json")).unwrap(),
        )
        .unwrap();
        build(&definition, &history("failed-after-retries")).unwrap()
    }

    /// The recorded deploy, on the deploy state machine.
    fn deploy() -> Graph {
        use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
        use crate::bootstrap::definition::{DEPLOY_ASL, with_timeout};
        let definition: Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        build(&definition, &history("deploy-succeeded")).unwrap()
    }

    #[test]
    fn the_path_retries_and_failed_state_are_marked() {
        let graph = recorded();
        let node = |name: &str| graph.nodes.iter().find(|n| n.name == name).unwrap();
        assert!(node("Prepare").visited && !node("Prepare").failed);
        assert_eq!(node("CallWorker").failed_attempts, 3);
        assert!(node("GaveUp").failed);
        let edge = |from: &str, to: &str| {
            graph
                .edges
                .iter()
                .find(|e| e.from == from && e.to == to)
                .unwrap()
        };
        assert!(edge("Prepare", "CallWorker").taken);
        assert!(
            edge("CallWorker", "GaveUp").taken && edge("CallWorker", "GaveUp").label == "catch"
        );
        let deploy = deploy();
        let reached: Vec<&str> = deploy
            .nodes
            .iter()
            .filter(|n| n.visited)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(reached.len(), 6, "{reached:?}");
        assert!(
            deploy
                .nodes
                .iter()
                .any(|n| n.name == "UpdateStack" && !n.visited && !n.failed)
        );
        let taken = |from: &str, to: &str| {
            deploy
                .edges
                .iter()
                .any(|e| e.from == from && e.to == to && e.taken)
        };
        assert!(
            taken("ChooseOperation", "CreateStack") && !taken("ChooseOperation", "UpdateStack")
        );
        let text = dot(&graph);
        assert!(
            text.contains(&format!(
                "\"GaveUp\" [shape=box, style=filled, fillcolor=\"{FAILED}\""
            )),
            "{text}"
        );
        assert!(text.contains("\"CallWorker\" -> \"GaveUp\" [color=\"#1b5e20\", penwidth=3, style=dashed, label=\"catch\"]"), "{text}");
        assert!(mermaid(&graph).contains("GaveUp[\"GaveUp (Fail)\"]:::failed"));
    }

    #[test]
    fn the_rendered_pictures_show_the_path() {
        let picture = svg(&recorded()).unwrap();
        assert!(picture.contains("<svg"), "not an SVG");
        for state in [
            "Prepare (Pass)",
            "CallWorker (Task, 3 failed attempts)",
            "GaveUp (Fail)",
        ] {
            assert!(picture.contains(state), "{state} missing from the SVG");
        }
        for color in [VISITED, FAILED] {
            assert!(picture.contains(color), "{color} missing from the SVG");
        }
        let deploy = svg(&deploy()).unwrap();
        assert!(deploy.contains("UpdateStack (Task)") && deploy.contains(NOT_REACHED));
        let bytes = png(&picture).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    fn event(kind: &str, state: Option<&str>) -> Event {
        Event {
            id: 0,
            timestamp: 0.0,
            kind: kind.into(),
            state: state.map(str::to_string),
            error: None,
            cause: None,
            output: None,
        }
    }

    #[test]
    fn a_map_counts_its_runs_and_iterations_as_aws_or_as_tasks_records_them() {
        let wave = |targets: usize, aws: bool| {
            let mut events = vec![event("MapStateEntered", Some("DeployWave"))];
            for _ in 0..targets {
                if aws {
                    events.push(event("MapIterationStarted", None));
                    events.push(event("TaskStateEntered", Some("DeployTarget")));
                }
                events.push(event("TaskScheduled", None));
            }
            events.push(event("MapStateExited", Some("DeployWave")));
            events.push(event("TaskStateEntered", Some("FinishWave")));
            events.push(event("ActivityScheduled", None));
            events
        };
        for aws in [true, false] {
            let events: Vec<Event> = [wave(1, aws), wave(2, aws), wave(1, aws)].concat();
            let counts = map_counts(&events);
            assert_eq!(counts.get("DeployWave"), Some(&(3, 4)), "aws: {aws}");
            assert_eq!(counts.get("FinishWave"), None);
        }
        let node = Node {
            name: "DeployWave".into(),
            kind: "Map".into(),
            visited: true,
            failed: false,
            failed_attempts: 0,
            map_runs: 3,
            map_iterations: 4,
        };
        assert_eq!(label(&node), "DeployWave (Map, ran 3 times, 4 iterations)");
    }
}
