//! Link, audit, wheel and stamp for one variant whose objects are compiled,
//! as separate steps over one [`VariantPackage`].
//!
//! The stamp (`<out>/build/<id>/stamp.json`) records a digest of every input
//! of the wheel (object keys, the link line, the payload, metadata, file name,
//! generator, epoch) and the wheel's sha256: when both still match, nothing
//! runs and the variant is up to date.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::command::Link;
use super::run::{run_argv, shell_words};
use super::{info, keys, EngineError, Options, Status};
use crate::audit::{self, Allowed};
use crate::matrix::Package;
use crate::names::PackageName;
use crate::plan::Variant;
use crate::platform::Os;
use crate::progress::Progress;
use crate::toolchain::Toolchain;
use crate::wheel::{self, metadata::CoreMetadata, Entry, Source, WheelSpec, WrittenWheel};

/// What the stamp next to a built wheel records.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Stamp {
    inputs: String,
    wheel: String,
    sha256: String,
    audited: Option<String>,
}

/// Everything packaging one variant needs.
pub(super) struct VariantPackage<'a> {
    pub v: &'a Variant,
    pub tc: &'a Toolchain,
    pub opts: &'a Options,
    /// The matrix's package settings (name, summary, license, readme).
    pub package: &'a Package,
    /// The release's pages URL, recorded in `_build_info.py`.
    pub pages: &'a str,
    pub wheels_dir: &'a Path,
    pub link: &'a Link,
    /// The compiled objects, in link order.
    pub objects: Vec<PathBuf>,
    /// Their cache keys (inputs of the stamp).
    pub object_keys: Vec<&'a str>,
    pub progress: &'a dyn Progress,
}

/// A packaged variant.
#[derive(Debug)]
pub(super) struct Packaged {
    pub status: Status,
    pub wheel: Option<String>,
    pub size: u64,
    /// The tag the audit derived. Ex) `manylinux_2_28_x86_64`
    pub audited: Option<String>,
}

impl VariantPackage<'_> {
    /// Link, audit and wheel, unless the stamp says the wheel is up to date.
    pub fn run(&self, log: &mut Vec<u8>) -> Result<Packaged, EngineError> {
        let (pkg_dir, payload) = self.payload()?;
        let spec = self.wheel_spec(log);
        let inputs = self.inputs_digest(&payload, &spec)?;
        if let Some(done) = self.up_to_date(&inputs, log) {
            return Ok(done);
        }
        let lib = self.link_library(log)?;
        let audited = self.audit(&lib, log)?;
        let written = self.write_wheel(&spec, payload, &pkg_dir, lib, log)?;
        self.write_stamp(inputs, &written, audited.clone())?;
        Ok(Packaged {
            status: Status::Built,
            wheel: Some(self.v.wheel.to_string()),
            size: written.size,
            audited,
        })
    }

    /// `<out>/build/<id>`: the library, the stamp, scratch files.
    fn build_dir(&self) -> PathBuf {
        self.opts.out.join("build").join(&self.v.id)
    }

    fn stamp_path(&self) -> PathBuf {
        self.build_dir().join("stamp.json")
    }

    /// The import package directory and the payload: everything but the
    /// library (bindings/python without caches and stale builds, plus
    /// `_build_info.py`).
    fn payload(&self) -> Result<(String, Vec<Entry>), EngineError> {
        let python = self.opts.repo.join("bindings/python");
        let pkg_dir = import_package(&python, &self.package.name);
        let mut payload: Vec<Entry> = wheel::payload_from_dir(&python)?
            .into_iter()
            .filter(|e| {
                !e.path.contains("__pycache__/")
                    && !e.path.ends_with(".pyc")
                    && e.path != format!("{pkg_dir}/_build_info.py")
                    && !(e.path.starts_with(&format!("{pkg_dir}/_C.")))
            })
            .collect();
        let info = info::render(
            self.v,
            &self.tc.torch.version,
            self.tc.torch.cxx_std.year,
            self.pages,
            &self.opts.revision,
        );
        payload.push(Entry::bytes(format!("{pkg_dir}/_build_info.py"), info));
        Ok((pkg_dir, payload))
    }

    /// METADATA, licenses, file name and generator of the wheel.
    fn wheel_spec(&self, log: &mut Vec<u8>) -> WheelSpec {
        let (v, package, repo) = (self.v, self.package, &self.opts.repo);
        let description = match &package.readme {
            Some(r) => match fs_err::read_to_string(repo.join(r)) {
                Ok(t) => Some(t),
                Err(_) => {
                    let _ = writeln!(
                        log,
                        "note: readme `{r}` not found; METADATA has no long description"
                    );
                    None
                }
            },
            None => None,
        };
        let metadata = CoreMetadata {
            name: package.name.clone(),
            version: v.version.clone(),
            summary: package.summary.clone(),
            license_expression: package.license.clone(),
            license_files: package.license_files.clone(),
            requires_dist: v.requires_dist.clone(),
            requires_python: v.requires_python.clone(),
            project_urls: package.urls.clone(),
            description,
        };
        let licenses: Vec<Entry> = package
            .license_files
            .iter()
            .map(|l| Entry {
                path: l.clone(),
                source: Source::File(repo.join(l)),
            })
            .collect();
        WheelSpec {
            filename: v.wheel.clone(),
            metadata,
            generator: format!("attnfarm-xtask {}", env!("CARGO_PKG_VERSION")),
            licenses,
        }
    }

    /// The digest of every input of the wheel.
    fn inputs_digest(&self, payload: &[Entry], spec: &WheelSpec) -> Result<String, EngineError> {
        let repo_s = self.opts.repo.display().to_string();
        let cache_s = self.opts.cache.root.display().to_string();
        let link_template = keys::normalize(
            &self
                .link
                .argv(&self.objects, Path::new(keys::OUT), &self.build_dir()),
            &[(&cache_s, "$CACHE"), (&repo_s, "$REPO")],
        );
        let mut h = Sha256::new();
        h.update(b"attnfarm-variant-v1\0");
        for k in &self.object_keys {
            h.update(k.as_bytes());
        }
        for a in &link_template {
            h.update(a.as_bytes());
            h.update([0]);
        }
        for e in payload.iter().chain(spec.licenses.iter()) {
            h.update(e.path.as_bytes());
            h.update([0]);
            let bytes = match &e.source {
                Source::File(p) => fs_err::read(p)?,
                Source::Bytes(b) => b.clone(),
            };
            h.update(Sha256::digest(&bytes));
        }
        h.update(spec.metadata.render().as_bytes());
        h.update(spec.filename.to_string().as_bytes());
        h.update(spec.generator.as_bytes());
        h.update(self.opts.epoch.to_le_bytes());
        Ok(hex::encode(h.finalize()))
    }

    /// Some: the stamp matches `inputs` and the wheel on disk (object cache on).
    fn up_to_date(&self, inputs: &str, log: &mut Vec<u8>) -> Option<Packaged> {
        if !self.opts.object_cache {
            return None;
        }
        let wheel_name = self.v.wheel.to_string();
        let wheel_path = self.wheels_dir.join(&wheel_name);
        let bytes = fs_err::read(self.stamp_path()).ok()?;
        let stamp = serde_json::from_slice::<Stamp>(&bytes).ok()?;
        if stamp.inputs != inputs || stamp.wheel != wheel_name {
            return None;
        }
        let (sha, size) = wheel::sha256_file(&wheel_path).ok()?;
        if sha != stamp.sha256 {
            return None;
        }
        let _ = writeln!(
            log,
            "up to date: {} (inputs {})",
            wheel_path.display(),
            &inputs[..16]
        );
        Some(Packaged {
            status: Status::UpToDate,
            wheel: Some(wheel_name),
            size,
            audited: stamp.audited,
        })
    }

    /// Links the library into the build directory (temporary name, renamed).
    fn link_library(&self, log: &mut Vec<u8>) -> Result<PathBuf, EngineError> {
        let lib_name = self.v.platform.library_name();
        self.progress.step(&self.v.id, &format!("link {lib_name}"));
        let build_dir = self.build_dir();
        fs_err::create_dir_all(&build_dir)?;
        let lib_path = build_dir.join(lib_name);
        let tmp = crate::fsx::temp_sibling(&lib_path);
        let argv = self.link.argv(&self.objects, &tmp, &build_dir);
        let _ = writeln!(log, "$ {}", shell_words(&argv));
        let (ok, out) = run_argv(&argv)?;
        log.extend_from_slice(&out);
        if !ok {
            let _ = fs_err::remove_file(&tmp);
            let first_error = String::from_utf8_lossy(&out)
                .lines()
                .find(|l| l.contains("error") || l.contains("undefined"))
                .unwrap_or("")
                .to_string();
            return Err(EngineError::Link {
                lib: lib_name,
                first_error,
            });
        }
        fs_err::rename(&tmp, &lib_path)?;
        Ok(lib_path)
    }

    /// Linux: the audit of the library; Ok(the tag it derived). Windows: None.
    fn audit(&self, lib: &Path, log: &mut Vec<u8>) -> Result<Option<String>, EngineError> {
        let v = self.v;
        if v.platform.os() != Os::Linux {
            return Ok(None);
        }
        self.progress.step(&v.id, "audit");
        let allowed = Allowed {
            torch_libs: self.tc.torch.libs.clone(),
            cudart: self.tc.cuda.cudart.clone(),
            stable_abi: v.is_stable(),
        };
        let report = audit::audit_file(lib, &v.platform_tag, &allowed)?;
        let _ = writeln!(log, "{report}");
        if !report.ok() {
            return Err(EngineError::AuditFailed(Box::new(report)));
        }
        Ok(report.needed.map(|t| t.to_string()))
    }

    /// The wheel: payload plus the library.
    fn write_wheel(
        &self,
        spec: &WheelSpec,
        mut payload: Vec<Entry>,
        pkg_dir: &str,
        lib: PathBuf,
        log: &mut Vec<u8>,
    ) -> Result<WrittenWheel, EngineError> {
        self.progress.step(&self.v.id, "wheel");
        payload.push(Entry {
            path: format!("{pkg_dir}/{}", self.v.platform.library_name()),
            source: Source::File(lib),
        });
        let written = wheel::write_wheel(spec, &payload, self.wheels_dir, Some(self.opts.epoch))?;
        let _ = writeln!(
            log,
            "wrote {} ({} bytes, sha256 {})",
            written.path.display(),
            written.size,
            written.sha256
        );
        Ok(written)
    }

    /// Records the inputs of the wheel just written (object cache on); a
    /// build without the cache leaves no stamp.
    fn write_stamp(
        &self,
        inputs: String,
        written: &WrittenWheel,
        audited: Option<String>,
    ) -> Result<(), EngineError> {
        let stamp_path = self.stamp_path();
        if !self.opts.object_cache {
            let _ = fs_err::remove_file(&stamp_path);
            return Ok(());
        }
        let stamp = Stamp {
            inputs,
            wheel: self.v.wheel.to_string(),
            sha256: written.sha256.clone(),
            audited,
        };
        crate::fsx::write_atomic(
            &stamp_path,
            &serde_json::to_vec_pretty(&stamp).expect("serializable"),
        )?;
        Ok(())
    }
}

/// The import package under bindings/python: the one directory with an
/// `__init__.py`, else the distribution name's file form.
fn import_package(python_dir: &Path, dist_name: &PackageName) -> String {
    let mut found: Vec<String> = fs_err::read_dir(python_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("__init__.py").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if found.len() == 1 {
        found.remove(0)
    } else {
        dist_name.file_form()
    }
}
