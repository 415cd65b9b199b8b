//! `pactum partner add|rename|succeed|list|show`.

use clap::{Args, Subcommand};

use super::{country, date, print_written, text, word};
use crate::app::AppError;
use crate::cli::output::{self, Report, Rows, colored};
use crate::cli::{Access, Context, PointArgs, WriteArgs};
use crate::domain::decide::Command;
use crate::domain::{
    CountryCode, PartialDate, PartnerId, PartnerKind, PartnerName, PartnerRegistered,
    PartnerRenamed, PartnerStatus, PartnerSucceeded, ShortName,
};

/// Partners: the institutions the directorate signs with (the short
/// `about` lists the commands; a one-paragraph doc comment would be both).
#[derive(Debug, Subcommand)]
#[command(
    about = "Register, rename, list and show partners",
    long_about = "Partners: the institutions the directorate signs with."
)]
pub enum PartnerCommand {
    /// Register a partner
    ///
    /// Example:
    ///   pactum partner add "Haut Commissariat au Plan" --kind high-commission --short HCP
    Add(AddArgs),
    /// Record a real-world change of a partner's name, from a date on
    ///
    /// Example:
    ///   pactum partner rename "Tanger-Tétouan" --to "Tanger-Tétouan-Al Hoceïma" --effective 2015-09
    Rename(RenameArgs),
    /// Record that a partner ceased to exist and others took over its conventions
    ///
    /// A merger is one succession per predecessor, each naming the same
    /// successor; a split is one succession naming several successors.
    /// From the date on, every convention the partner was a party of has
    /// its successors in its place (each marked as there by succession).
    ///
    /// Example:
    ///   pactum partner succeed "Meknès-Tafilalet" --successor "Fès-Meknès" --successor "Drâa-Tafilalet" --successor "Béni Mellal-Khénifra" --effective 2015-09-04 --reason "2015 regional reform" --source "décret n° 2-15-40 du 20 février 2015"
    Succeed(SucceedArgs),
    /// List partners, as of a date, with their status (active, or succeeded and by whom)
    ///
    /// Example:
    ///   pactum partner list --kind region --as-of 2010
    List(ListArgs),
    /// Show a partner: its status, successors and predecessors, and its conventions (those it has by succession with their predecessors and date)
    ///
    /// Examples:
    ///   pactum partner show "fes boulemane"
    ///   pactum partner show "Fès-Meknès" --as-of 2016
    Show(ShowArgs),
}

/// `partner add`
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct AddArgs {
    /// The partner's name, as published
    pub name: String,
    /// What kind of institution: ministry, high-commission, agency, academic, region, commune, ngo, foreign-state, international-organisation
    #[arg(long, value_parser = word::<PartnerKind>)]
    pub kind: PartnerKind,
    /// Its acronym or short name
    #[arg(long, value_name = "TEXT", value_parser = text(ShortName::new))]
    pub short: Option<ShortName>,
    /// ISO 3166-1 alpha-2 code, for foreign states (FR, MG, …)
    #[arg(long, value_name = "CC", value_parser = country)]
    pub country: Option<CountryCode>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `partner rename`
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RenameArgs {
    /// The partner (P7, its id, or its name)
    pub partner: String,
    /// The new name
    #[arg(long, value_name = "NAME", value_parser = text(PartnerName::new))]
    pub to: PartnerName,
    /// When the new name took effect
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub effective: PartialDate,
    /// The new acronym (the current one is kept otherwise)
    #[arg(long, value_name = "TEXT", value_parser = text(ShortName::new))]
    pub short: Option<ShortName>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `partner succeed`
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct SucceedArgs {
    /// The partner that ceases to exist (P7, its id, or its name)
    pub partner: String,
    /// A partner that takes over its conventions (repeat for a split)
    #[arg(long = "successor", value_name = "P", required = true)]
    pub successors: Vec<String>,
    /// When the partner ceased to exist and its successors took over
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub effective: PartialDate,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `partner list`
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ListArgs {
    /// Only partners of this kind
    #[arg(long, value_parser = word::<PartnerKind>)]
    pub kind: Option<PartnerKind>,
    /// Only partners whose name contains these words (accents, case and punctuation ignored)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    #[command(flatten)]
    pub point: PointArgs,
}

/// `partner show`
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ShowArgs {
    /// The partner (P7, its id, or its name)
    pub partner: String,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs a `partner` subcommand.
pub fn run(ctx: &Context, command: PartnerCommand) -> Result<(), AppError> {
    match command {
        PartnerCommand::Add(a) => add(ctx, a),
        PartnerCommand::Rename(a) => rename(ctx, a),
        PartnerCommand::Succeed(a) => succeed(ctx, a),
        PartnerCommand::List(a) => list(ctx, a),
        PartnerCommand::Show(a) => show(ctx, a),
    }
}

fn add(ctx: &Context, a: AddArgs) -> Result<(), AppError> {
    let payload = PartnerRegistered {
        name: PartnerName::new(a.name.trim())
            .map_err(|e| AppError::invalid(format!("name: {e}")))?,
        kind: a.kind,
        short_name: a.short,
        country: a.country,
    };
    let meta = ctx.write_meta(&a.write)?;
    if meta.expect_version.is_some_and(|v| v != 0) {
        return Err(AppError::invalid(
            "--expect-version: a new partner is at version 0",
        ));
    }
    let registry = ctx.open(Access::Create)?;
    let id = PartnerId(registry.new_id());
    let written = registry.execute(Command::RegisterPartner(id, payload), &meta)?;
    print_written(ctx, &registry, &written, "registered")
}

fn rename(ctx: &Context, a: RenameArgs) -> Result<(), AppError> {
    let (new_name, effective_on, short_name) = (a.to, a.effective, a.short);
    let meta = ctx.write_meta(&a.write)?;
    let registry = ctx.open(Access::Write)?;
    let partner = registry.resolve_partner(&a.partner)?;
    let payload = PartnerRenamed {
        new_name,
        short_name,
        effective_on,
    };
    let written = registry.execute(Command::RenamePartner(partner, payload), &meta)?;
    print_written(ctx, &registry, &written, "renamed")
}

fn succeed(ctx: &Context, a: SucceedArgs) -> Result<(), AppError> {
    let effective_on = a.effective;
    let meta = ctx.write_meta(&a.write)?;
    let registry = ctx.open(Access::Write)?;
    let partner = registry.resolve_partner(&a.partner)?;
    let successors = a
        .successors
        .iter()
        .map(|q| registry.resolve_partner(q))
        .collect::<Result<Vec<_>, _>>()?;
    let payload = PartnerSucceeded {
        successors,
        effective_on,
    };
    let written = registry.execute(Command::SucceedPartner(partner, payload), &meta)?;
    print_written(ctx, &registry, &written, "succeeded")
}

fn list(ctx: &Context, a: ListArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let snapshot = registry.snapshot(point);
    let partners = snapshot.partners(a.kind, a.search.as_deref())?;
    let report = Report::for_format(
        &ctx.out,
        || partners.iter().map(output::partner_json).collect(),
        || partner_rows(&partners),
        Some(format!(
            "{} as of {}",
            output::count(partners.len(), "partner"),
            point.valid
        )),
    );
    output::print(&ctx.out, &report)
}

fn partner_rows(partners: &[crate::app::PartnerView]) -> Rows {
    Rows {
        headers: vec!["handle", "name", "short", "kind", "country", "status"],
        rows: partners
            .iter()
            .map(|p| {
                let s = &p.state;
                let name = if s.approximate {
                    format!("{} ~", s.name)
                } else {
                    s.name.to_string()
                };
                vec![
                    colored(p.handle.to_string(), comfy_table::Color::Cyan),
                    name.into(),
                    s.short_name
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                        .into(),
                    s.kind.as_str().into(),
                    s.country.map(|c| c.to_string()).unwrap_or_default().into(),
                    status_text(p).into(),
                ]
            })
            .collect(),
    }
}

/// `active`, or `succeeded 2015-09-04 by P60, P61`.
fn status_text(p: &crate::app::PartnerView) -> String {
    let s = &p.state;
    match (s.status, s.succeeded_on) {
        (PartnerStatus::Succeeded, Some(on)) => format!(
            "succeeded {on} by {}",
            p.successors
                .iter()
                .map(|q| q.handle.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (status, _) => status.as_str().to_owned(),
    }
}

fn show(ctx: &Context, a: ShowArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let partner = registry.resolve_partner(&a.partner)?;
    let snapshot = registry.snapshot(point);
    let view = snapshot
        .partner(partner)?
        .ok_or_else(|| AppError::NotFound {
            message: format!(
                "{} does not exist as recorded at #{}",
                registry.label(partner.into()),
                point.recorded
            ),
            hint: Some("`pactum history` shows every event of an entry".into()),
        })?;
    let conventions = snapshot.conventions_of(partner)?;
    let mut json = output::partner_json(&view);
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "conventions".into(),
            conventions.iter().map(output::convention_json).collect(),
        );
    }
    let s = &view.state;
    let mut rows = vec![
        vec!["handle".into(), view.handle.to_string().into()],
        vec!["id".into(), s.id.to_string().into()],
        vec!["name".into(), s.name.to_string().into()],
        vec![
            "short name".into(),
            s.short_name
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
                .into(),
        ],
        vec!["kind".into(), s.kind.as_str().into()],
        vec![
            "country".into(),
            s.country
                .map(|c| format!("{c} ({})", c.country_name()))
                .unwrap_or_default()
                .into(),
        ],
        vec!["status".into(), status_text(&view).into()],
        vec!["version".into(), s.version.to_string().into()],
        vec![
            "approximate".into(),
            if s.approximate { "yes ~" } else { "no" }.into(),
        ],
    ];
    for q in &view.successors {
        rows.push(vec![
            "successor".into(),
            format!("{} {}", q.handle, q.name).into(),
        ]);
    }
    for q in &view.predecessors {
        rows.push(vec![
            "predecessor".into(),
            format!("{} {}", q.handle, q.name).into(),
        ]);
    }
    for c in &conventions {
        let by_succession = c
            .parties
            .iter()
            .find(|p| p.id == partner)
            .and_then(|p| p.since.map(|since| (since, &p.via)))
            .map(|(since, via)| {
                format!(
                    " (by succession to {} since {since})",
                    via.iter()
                        .map(|q| format!("{} {}", q.handle, q.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .unwrap_or_default();
        rows.push(vec![
            format!("convention {}", c.handle).into(),
            format!(
                "{} {} — {}{by_succession}",
                c.state.instrument,
                output::date_cell(c.state.signed_on, point.valid),
                c.state.objectives
            )
            .into(),
        ]);
    }
    let report = Report {
        json,
        rows: Rows {
            headers: vec!["field", "value"],
            rows,
        },
        note: Some(format!(
            "as of {}, recorded as of #{}",
            point.valid, point.recorded
        )),
    };
    output::print(&ctx.out, &report)
}
