//! The workflows as data: what `ci::resolve` makes of the plan, before
//! any YAML. Each type turns itself into a [`yaml::Map`] with GitHub's key
//! names in one fixed order ([`Workflow::render`] writes the file).

use super::yaml::{self, Map, Value};
use super::Pin;

/// A GitHub expression. Ex) `${{ matrix.id }}`
pub fn expr(inner: &str) -> String {
    ["${{ ", inner, " }}"].concat()
}

/// One `.github/workflows/*.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// The `# …` lines at the top of the file.
    pub header: &'static str,
    pub name: &'static str,
    pub on: On,
    /// Top-level grants (the rule: none; every job grants its own).
    pub permissions: Vec<Grant>,
    pub env: Vec<(String, String)>,
    pub concurrency: Concurrency,
    pub jobs: Vec<Job>,
}

/// The triggers (`on:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct On {
    pub push: Option<Push>,
    pub pull_request: bool,
    /// `workflow_dispatch` with these inputs, if it can be started by hand.
    pub dispatch: Option<Vec<Input>>,
}

/// `push:` filters; an empty list is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Push {
    pub branches: Vec<String>,
    pub tags: Vec<String>,
}

/// A `workflow_dispatch` input. Ex) `dry-run`, boolean, default true
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub id: &'static str,
    pub description: &'static str,
    pub kind: InputKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Boolean { default: bool },
}

/// A `GITHUB_TOKEN` permission, with why the job needs it.
/// Ex) `contents: write # create the release, upload assets`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub scope: &'static str,
    pub access: Access,
    pub why: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Grant {
    pub fn read(scope: &'static str) -> Self {
        Grant {
            scope,
            access: Access::Read,
            why: None,
        }
    }

    pub fn write(scope: &'static str, why: &'static str) -> Self {
        Grant {
            scope,
            access: Access::Write,
            why: Some(why),
        }
    }
}

/// Which runs share a slot (`concurrency:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    pub group: String,
    /// The expression under which a newer run cancels this one; `None`:
    /// never (`cancel-in-progress: false`).
    pub cancel_in_progress: Option<String>,
}

/// One job of [`Workflow::jobs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Job {
    /// The key under `jobs:`. Ex) `build-linux_x86_64`
    pub id: String,
    pub name: String,
    /// Job ids; one is written as a scalar, more as `[a, b]`.
    pub needs: Vec<String>,
    pub if_: Option<String>,
    pub strategy: Option<Strategy>,
    pub runs_on: String,
    /// The container image (pinned by digest: `image@sha256:…`).
    pub container: Option<String>,
    pub environment: Option<Environment>,
    pub permissions: Vec<Grant>,
    pub timeout_minutes: u32,
    pub env: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    pub steps: Vec<Step>,
    /// `# …` lines above a key of the job: why it is so.
    pub notes: Vec<(JobKey, String)>,
}

/// A key of a [`Job`] a note can stand above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKey {
    If,
    Environment,
    TimeoutMinutes,
}

impl JobKey {
    fn name(self) -> &'static str {
        match self {
            JobKey::If => "if",
            JobKey::Environment => "environment",
            JobKey::TimeoutMinutes => "timeout-minutes",
        }
    }
}

/// `strategy:` of a job with a matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategy {
    pub fail_fast: bool,
    /// The matrix expression. Ex) `${{ fromJSON(needs.plan.outputs.linux_x86_64) }}`
    pub matrix: String,
}

/// A deployment environment. One with a `url` is a deployment whose page
/// a step reports; one without gates the job (required reviewers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub url: Option<String>,
}

/// One step: an action or a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: Option<String>,
    pub name: Option<String>,
    pub if_: Option<String>,
    pub env: Vec<(String, String)>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A pinned action and its inputs.
    Uses {
        pin: Pin,
        with: Vec<(&'static str, Value)>,
    },
    /// A script; `shell: None` is the workflow's default (bash).
    Run {
        shell: Option<Shell>,
        script: String,
    },
}

/// A shell other than the default bash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Pwsh,
}

impl Step {
    /// A bash `run:` step. The script's lines each end in a newline (one is
    /// added to the last if it has none): what GitHub runs is the block.
    pub fn run(name: impl Into<String>, script: impl Into<String>) -> Self {
        let mut script = script.into();
        if !script.ends_with('\n') {
            script.push('\n');
        }
        Step {
            id: None,
            name: Some(name.into()),
            if_: None,
            env: Vec::new(),
            action: Action::Run {
                shell: None,
                script,
            },
        }
    }

    /// A step that uses `pin`.
    pub fn uses(pin: Pin) -> Self {
        Step {
            id: None,
            name: None,
            if_: None,
            env: Vec::new(),
            action: Action::Uses {
                pin,
                with: Vec::new(),
            },
        }
    }

    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// `if: cond`
    pub fn when(mut self, cond: &str) -> Self {
        self.if_ = Some(cond.to_string());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// An input of a `uses` step.
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        match &mut self.action {
            Action::Uses { with, .. } => with.push((key, value.into())),
            Action::Run { .. } => panic!("`with: {key}` on a run step"),
        }
        self
    }

    pub fn shell(mut self, sh: Shell) -> Self {
        match &mut self.action {
            Action::Run { shell, .. } => *shell = Some(sh),
            Action::Uses { .. } => panic!("`shell:` on a uses step"),
        }
        self
    }

    /// Key order: id, name, uses, if, env, shell, with, run.
    fn to_yaml(&self) -> Map {
        let mut m = Map::new();
        m.opt("id", self.id.as_deref());
        m.opt("name", self.name.as_deref());
        if let Action::Uses { pin, .. } = &self.action {
            m.entry("uses", pin.reference()).trailing(pin.version);
        }
        m.opt("if", self.if_.as_deref());
        if !self.env.is_empty() {
            m.entry("env", pairs(&self.env));
        }
        match &self.action {
            Action::Uses { with, .. } => {
                if !with.is_empty() {
                    let mut w = Map::new();
                    for (k, v) in with {
                        w.entry(*k, v.clone());
                    }
                    m.entry("with", w);
                }
            }
            Action::Run { shell, script } => {
                if let Some(Shell::Pwsh) = shell {
                    m.entry("shell", "pwsh");
                }
                m.entry("run", Value::Block(script.clone()));
            }
        }
        m
    }
}

fn pairs(kv: &[(String, String)]) -> Map {
    let mut m = Map::new();
    for (k, v) in kv {
        m.entry(k.as_str(), v);
    }
    m
}

fn grants(gs: &[Grant]) -> Map {
    let mut m = Map::new();
    for g in gs {
        let access = match g.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        let e = m.entry(g.scope, access);
        if let Some(why) = g.why {
            e.trailing(why);
        }
    }
    m
}

impl Job {
    /// Key order: name, needs, if, strategy, runs-on, container, a gating
    /// environment, permissions, timeout-minutes, a deployment environment
    /// (next to the steps whose output its url names), env, outputs, steps.
    fn to_yaml(&self) -> Map {
        let mut m = Map::new();
        // `key: value`, with the job's note on `key` above it.
        let note = |m: &mut Map, key: JobKey, value: Value| {
            let e = m.entry(key.name(), value);
            if let Some((_, text)) = self.notes.iter().find(|(k, _)| *k == key) {
                e.comment(text.as_str());
            }
        };
        m.entry("name", &self.name);
        match self.needs.as_slice() {
            [] => {}
            [one] => {
                m.entry("needs", one);
            }
            many => {
                m.entry("needs", Value::Flow(many.to_vec()));
            }
        }
        if let Some(c) = &self.if_ {
            note(&mut m, JobKey::If, c.into());
        }
        if let Some(s) = &self.strategy {
            let mut st = Map::new();
            st.entry("fail-fast", s.fail_fast);
            st.entry("matrix", &s.matrix);
            m.entry("strategy", st);
        }
        m.entry("runs-on", &self.runs_on);
        if let Some(image) = &self.container {
            let mut c = Map::new();
            c.entry("image", image);
            m.entry("container", c);
        }
        let environment = |m: &mut Map, env: &Environment| {
            let mut e = Map::new();
            e.entry("name", &env.name);
            e.opt("url", env.url.as_deref());
            note(m, JobKey::Environment, e.into());
        };
        let gating = self.environment.as_ref().filter(|e| e.url.is_none());
        let deployment = self.environment.as_ref().filter(|e| e.url.is_some());
        if let Some(e) = gating {
            environment(&mut m, e);
        }
        m.entry("permissions", grants(&self.permissions));
        note(&mut m, JobKey::TimeoutMinutes, self.timeout_minutes.into());
        if let Some(e) = deployment {
            environment(&mut m, e);
        }
        if !self.env.is_empty() {
            m.entry("env", pairs(&self.env));
        }
        if !self.outputs.is_empty() {
            m.entry("outputs", pairs(&self.outputs));
        }
        m.entry(
            "steps",
            Value::Seq(self.steps.iter().map(|s| s.to_yaml().into()).collect()),
        );
        m
    }
}

impl On {
    fn to_yaml(&self) -> Map {
        let mut m = Map::new();
        if let Some(p) = &self.push {
            let mut push = Map::new();
            for (key, list) in [("branches", &p.branches), ("tags", &p.tags)] {
                if !list.is_empty() {
                    push.entry(key, Value::Flow(list.clone()));
                }
            }
            m.entry("push", push);
        }
        if self.pull_request {
            m.entry("pull_request", Value::Null);
        }
        match &self.dispatch {
            None => {}
            Some(inputs) if inputs.is_empty() => {
                m.entry("workflow_dispatch", Value::Null);
            }
            Some(inputs) => {
                let mut ins = Map::new();
                for i in inputs {
                    let mut one = Map::new();
                    one.entry("description", i.description);
                    match i.kind {
                        InputKind::Boolean { default } => {
                            one.entry("type", "boolean");
                            one.entry("default", default);
                        }
                    }
                    ins.entry(i.id, one);
                }
                let mut d = Map::new();
                d.entry("inputs", ins);
                m.entry("workflow_dispatch", d);
            }
        }
        m
    }
}

impl Workflow {
    /// Key order: name, on, permissions, defaults (bash for every `run:`),
    /// env, concurrency, jobs; an empty line between them and between jobs.
    pub fn to_yaml(&self) -> Map {
        let mut m = Map::new();
        m.entry("name", self.name)
            .comment(self.header.trim_end_matches('\n'));
        m.entry("on", self.on.to_yaml());
        m.entry("permissions", grants(&self.permissions));
        let mut run = Map::new();
        run.entry("shell", "bash")
            .comment("bash -eo pipefail, on Windows too.");
        let mut defaults = Map::new();
        defaults.entry("run", run);
        m.entry("defaults", defaults);
        if !self.env.is_empty() {
            m.entry("env", pairs(&self.env));
        }
        let mut c = Map::new();
        c.entry("group", &self.concurrency.group);
        match &self.concurrency.cancel_in_progress {
            Some(cond) => c.entry("cancel-in-progress", cond),
            None => c.entry("cancel-in-progress", false),
        };
        m.entry("concurrency", c);
        let mut jobs = Map::new();
        for j in &self.jobs {
            jobs.entry(j.id.as_str(), j.to_yaml());
        }
        m.entry("jobs", jobs.spaced());
        m.spaced()
    }

    pub fn render(&self) -> String {
        yaml::render(&self.to_yaml())
    }
}
