//! `pactum demo`: build a registry from the 2009 lists and tour it.

use clap::Args;

use crate::app::AppError;
use crate::app::demo::DemoSummary;
use crate::cli::output::{self, Format};
use crate::cli::{Access, Context, PointArgs};
use crate::domain::PartialDate;

/// Build a registry from the 2009 lists (imported as published, then the
/// clerk's corrections, then what happened to the partners since, each
/// event with its source: the 2015 regional reform, the merger of the Rabat
/// universities, the water and forests agency) and print a short tour: the
/// report, the registry as of 2005, the history of one entry, and the
/// conventions the region of Fès-Meknès has by succession; then write the
/// registry as a web site (`pactum publish`) in a `site` folder beside it
/// and print its path. Without --db, the registry goes to a new folder whose
/// path is printed, so you can explore it afterwards.
///
/// Examples:
///   pactum demo
///   pactum demo --db /tmp/pactum-demo
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Build a registry from the 2009 lists and tour it"
)]
pub struct DemoArgs {}

fn heading(ctx: &Context, title: &str) -> Result<(), AppError> {
    if ctx.out.format == Format::Table {
        output::outln!("\n━━ {title} ━━\n")?;
    }
    Ok(())
}

/// Publishes the demo registry as a site in a `site` folder beside it.
fn write_site(
    inner: &Context,
    registry: &std::path::Path,
) -> Result<crate::site::Published, AppError> {
    let site_dir = registry
        .parent()
        .map_or_else(|| std::path::PathBuf::from("site"), |p| p.join("site"));
    let opened = inner.open(Access::Read)?;
    let point = inner.point(&opened, &PointArgs::default())?;
    // A key made for this demo alone signs a checkpoint of the whole log,
    // so that the site carries its proofs; the private key is never written
    // anywhere, and the site shows the verifier key.
    let key = crate::transparency::SignerKey::generate(DEMO_KEY_NAME)?;
    let body = opened.checkpoint_body(key.name(), None)?;
    let checkpoint = crate::site::CheckpointInput {
        text: key.sign(&body)?,
        vkey: key.verifier().to_string(),
    };
    crate::site::publish(&opened, point, Some(&checkpoint), &site_dir)
}

/// The name of the key the demo makes to sign its checkpoint.
const DEMO_KEY_NAME: &str = "pactum-demo";

/// Runs `demo`.
pub fn run(ctx: &Context, _a: DemoArgs) -> Result<(), AppError> {
    let path = match &ctx.global.db {
        Some(p) => p.clone(),
        None => tempfile::Builder::new()
            .prefix("pactum-demo-")
            .tempdir()
            .map_err(|e| AppError::Other(format!("cannot make a folder for the demo: {e}")))?
            .keep()
            .join("registry"),
    };
    let inner = ctx.at(path.clone());
    let summary = {
        let registry = inner.open(Access::Create)?;
        let bar = ctx.progress(0, "building");
        let summary = registry.build_demo();
        bar.finish_and_clear();
        summary?
    };
    let db = path.display().to_string();
    if ctx.out.format == Format::Json {
        let published = write_site(&inner, &path)?;
        output::print_json(
            &serde_json::json!({
                "registry": db,
                "conventions": summary.conventions,
                "partners": summary.partners,
                "imported_at": summary.imported_at.0,
                "corrections": summary.corrections,
                "corrected_at": summary.corrected_at.0,
                "history": summary.history,
                "site": published.out.join("index.html").display().to_string(),
            }),
            false,
        )?;
        return Ok(());
    }
    print_what_was_built(&db, &summary)?;
    tour(&inner, &summary)?;
    heading(&inner, "5. The registry as a web site (pactum publish)")?;
    let published = write_site(&inner, &path)?;
    output::outln!(
        "{} conventions, {} files, {} inclusion proofs against a checkpoint signed by a key made for this demo; open it in a browser:",
        published.conventions,
        published.files,
        published.proofs
    )?;
    output::outln!("  {}", published.out.join("index.html").display())?;
    print_what_to_try(&db, &summary)
}

/// The registry's folder and its three parts: the lists, the corrections,
/// the history since.
fn print_what_was_built(db: &str, summary: &DemoSummary) -> Result<(), AppError> {
    output::outln!("pactum demo: a registry built from the 2009 lists")?;
    output::outln!("  registry     {db}")?;
    output::outln!(
        "  #1–#{}       the lists as published in 2009: {} conventions, {} partners",
        summary.imported_at,
        summary.conventions,
        summary.partners
    )?;
    output::outln!(
        "  #{}–#{}     {} corrections of typos, recorded afterwards",
        summary.imported_at.0 + 1,
        summary.corrected_at,
        summary.corrections
    )?;
    output::outln!(
        "  #{}–        {} events since 2009, each with its source (new regions and successions of 2015, university merger of 2014, water and forests agency of 2022)",
        summary.corrected_at.0 + 1,
        summary.history
    )
}

/// The tour: four reads of the registry, each run as its command runs.
fn tour(inner: &Context, summary: &DemoSummary) -> Result<(), AppError> {
    heading(
        inner,
        "1. The report today (corrected spellings, successors named with their predecessors)",
    )?;
    super::report::run(
        inner,
        super::report::ReportArgs {
            point: PointArgs::default(),
        },
    )?;
    heading(
        inner,
        &format!(
            "2. The registry as of 2005, as published (pactum list --as-of 2005 --recorded-as-of '#{}')",
            summary.imported_at
        ),
    )?;
    super::list::run(
        inner,
        super::list::ListArgs {
            point: PointArgs {
                as_of: PartialDate::year(2005).ok(),
                recorded_as_of: Some(format!("#{}", summary.imported_at)),
            },
            ..super::list::ListArgs::default()
        },
    )?;
    heading(inner, "3. How one entry changed (pactum history Figuig)")?;
    super::history::run(
        inner,
        super::history::HistoryArgs {
            entity: "Figuig".into(),
            point: PointArgs::default(),
        },
    )?;
    heading(
        inner,
        "4. What Fès-Meknès has by succession (pactum list --as-of 2016 --partner \"Fès-Meknès\")",
    )?;
    super::list::run(
        inner,
        super::list::ListArgs {
            partner: Some("Fès-Meknès".into()),
            point: PointArgs {
                as_of: PartialDate::year(2016).ok(),
                recorded_as_of: None,
            },
            ..super::list::ListArgs::default()
        },
    )
}

/// Commands to explore the registry with afterwards.
fn print_what_to_try(db: &str, summary: &DemoSummary) -> Result<(), AppError> {
    output::outln!("\nExplore it:")?;
    for example in [
        "list --as-of 2009-06-01".to_owned(),
        format!(
            "report --format markdown --recorded-as-of '#{}'",
            summary.imported_at
        ),
        "history \"Laâyoune-Sakia El Hamra-Boujdour\"".to_owned(),
        "partner show \"Meknès-Tafilalet\" --as-of 2016".to_owned(),
        "history C25".to_owned(),
        "blame C25".to_owned(),
        format!(
            "diff --recorded-from '#{}' --recorded-to '#{}'",
            summary.imported_at, summary.corrected_at
        ),
        "verify".to_owned(),
    ] {
        output::outln!("  pactum --db {db} {example}")?;
    }
    Ok(())
}
