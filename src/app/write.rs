//! The write path: decide, seal, project, commit.
//!
//! A command (or a batch of them, for imports) is decided against the
//! entity's stream as the store has it plus whatever the batch already
//! sealed, so later rows of an import see earlier ones. A batch is all or
//! nothing: every refusal is collected with its position, and if there is
//! one, nothing is written.

use std::cell::{OnceCell, RefCell};
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use super::{AppError, Registry};
use crate::domain::decide::{Command, Directory, Subject, decide};
use crate::domain::{
    Actor, AnyTimeline, ConventionId, EntityId, EntityKind, EventId, Handle, PartnerId,
    PartnerTimeline, PendingEvent, Reason, Seq, Source, Succession, end_of_time,
};
use crate::projection::Projector;
use crate::store::{Writer, workers};

/// A batch of at least this many commands reads its entities' documents
/// on every core before deciding (a thread costs more than a few reads).
const PREFETCH_IN_PARALLEL: usize = 64;

/// The envelope fields a user gives a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteMeta {
    /// `--by`, `PACTUM_ACTOR`, or the OS user
    pub actor: Actor,
    /// `--reason`
    pub reason: Option<Reason>,
    /// `--source`
    pub source: Option<Source>,
    /// `--expect-version`
    pub expect_version: Option<u64>,
}

/// What a write recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// the event's log position
    pub seq: Seq,
    /// the event's id
    pub event_id: EventId,
    /// the entity written to
    pub entity: EntityId,
    /// its handle
    pub handle: Handle,
    /// the entity's version after the write
    pub version: u64,
}

/// What decide may know, read from the store with the batch's pending
/// timelines on top.
struct Dir<'a> {
    registry: &'a Registry,
    overlay: &'a Projector<'a>,
    /// timelines read from the store for this batch's decisions (the store
    /// does not change until the batch commits; an entity the batch
    /// touches is read from `overlay` instead)
    read: &'a Memo,
    /// the first store error met while answering `decide` (the trait's
    /// answers cannot fail: the command fails with this error instead of
    /// being decided on a read that did not happen)
    failure: RefCell<Option<AppError>>,
}

/// What one batch read from the store for its decisions.
#[derive(Default)]
struct Memo {
    /// timelines, by entity
    timelines: RefCell<HashMap<EntityId, Option<AnyTimeline>>>,
    /// the partners the caches mark as holding a succession, read once (`None`
    /// when the caches could not be read: every partner is then read)
    naming_successors: OnceCell<Option<BTreeSet<PartnerId>>>,
}

impl Memo {
    /// The partners marked as holding a succession.
    fn naming_successors(&self, registry: &Registry) -> Option<&BTreeSet<PartnerId>> {
        self.naming_successors
            .get_or_init(|| {
                let marked = registry.store().partners_naming_successors().ok()?;
                Some(marked.into_iter().collect())
            })
            .as_ref()
    }
}

impl Dir<'_> {
    /// Calls `f` with the entity's timeline as the batch leaves it, else as
    /// the store has it.
    fn with_timeline<R>(&self, entity: EntityId, f: impl FnOnce(Option<&AnyTimeline>) -> R) -> R {
        if let Some((_, t)) = self.overlay.pending(entity) {
            return f(Some(t));
        }
        let mut read = self.read.timelines.borrow_mut();
        let t = match read.entry(entity) {
            Entry::Occupied(known) => known.into_mut(),
            // an entity that could not be read is not remembered as absent
            Entry::Vacant(slot) => match self.registry.store().timeline(entity) {
                Ok(t) => slot.insert(t.map(|(_, t)| t)),
                Err(e) => {
                    self.fail(e);
                    return f(None);
                }
            },
        };
        f(t.as_ref())
    }

    /// The value of a store read, or `T::default()` with the error kept for
    /// the command.
    fn kept<T: Default>(&self, read: Result<T, crate::store::StoreError>) -> T {
        read.unwrap_or_else(|e| {
            self.fail(e);
            T::default()
        })
    }

    fn fail(&self, e: impl Into<AppError>) {
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(e.into());
        }
    }
}

impl Directory for Dir<'_> {
    fn partner_exists(&self, id: PartnerId) -> bool {
        self.with_timeline(id.into(), |t| t.is_some_and(|t| !t.is_void()))
    }

    fn partners_named(&self, key: &str, except: Option<PartnerId>) -> Vec<PartnerId> {
        let named = self.kept(self.registry.store().names(Some(key)));
        let mut out: Vec<PartnerId> = named
            .into_iter()
            .filter(|e| e.current && self.overlay.pending(e.partner.into()).is_none())
            .map(|e| e.partner)
            .collect();
        out.extend(self.overlay.pending_partners_named(key));
        out.retain(|p| Some(*p) != except);
        out
    }

    fn conventions_naming(&self, partner: PartnerId) -> Vec<ConventionId> {
        let naming = self.kept(self.registry.store().conventions_naming(partner));
        let mut out: Vec<ConventionId> = naming
            .into_iter()
            .filter(|c| self.overlay.pending((*c).into()).is_none())
            .collect();
        for (entity, _, timeline) in self.overlay.pending_all() {
            if let (EntityId::Convention(c), AnyTimeline::Convention(t)) = (entity, timeline)
                && t.partners_ever().contains(&partner)
            {
                out.push(c);
            }
        }
        out
    }

    fn successions_of(&self, partner: PartnerId) -> Vec<Succession> {
        // A partner whose stream holds no succession has none: the caches
        // mark those that do, and the batch's own events are in `overlay`.
        if self.overlay.pending(partner.into()).is_none()
            && self
                .read
                .naming_successors(self.registry)
                .is_some_and(|marked| !marked.contains(&partner))
        {
            return Vec::new();
        }
        self.with_timeline(partner.into(), |t| match t {
            Some(AnyTimeline::Partner(t)) => t.successions(),
            _ => Vec::new(),
        })
    }

    fn predecessors_of(&self, partner: PartnerId) -> Vec<PartnerId> {
        // Only a partner whose stream holds a succession can be one: those
        // the caches mark (read one by one), then those the batch touched.
        let names = |t: &PartnerTimeline| {
            t.successions()
                .iter()
                .any(|s| s.succeeded.successors.contains(&partner))
        };
        let stored = |p: PartnerId| self.overlay.pending(p.into()).is_none();
        let mut out: Vec<PartnerId> = match self.read.naming_successors(self.registry) {
            Some(marked) => marked
                .iter()
                .copied()
                .filter(|p| {
                    stored(*p)
                        && self.with_timeline(
                            (*p).into(),
                            |t| matches!(t, Some(AnyTimeline::Partner(t)) if names(t)),
                        )
                })
                .collect(),
            // the marks could not be read: every partner is
            None => self
                .kept(
                    self.registry
                        .store()
                        .timelines_all(EntityKind::Partner, workers()),
                )
                .into_iter()
                .filter_map(|(_, t)| match t {
                    AnyTimeline::Partner(t) if stored(t.id) && names(&t) => Some(t.id),
                    _ => None,
                })
                .collect(),
        };
        for (entity, _, timeline) in self.overlay.pending_all() {
            if let (EntityId::Partner(p), AnyTimeline::Partner(t)) = (entity, timeline)
                && names(t)
            {
                out.push(p);
            }
        }
        out
    }

    fn event_owner(&self, event: EventId) -> Option<(Seq, EntityId)> {
        self.kept(self.registry.store().find_event(event))
            .map(|r| (r.seq, r.entity))
    }

    fn label(&self, entity: EntityId) -> String {
        match self.overlay.pending(entity) {
            Some((handle, AnyTimeline::Partner(t))) => match t.state_at(end_of_time()) {
                Some(s) => format!("{handle} '{}'", s.name),
                None => handle.to_string(),
            },
            Some((handle, AnyTimeline::Convention(_))) => handle.to_string(),
            None => self.registry.label(entity),
        }
    }
}

impl Registry {
    /// Records one command.
    pub fn execute(&self, command: Command, meta: &WriteMeta) -> Result<Written, AppError> {
        let mut written =
            self.execute_batch(vec![(command, meta.clone())])
                .map_err(|mut errors| {
                    errors
                        .pop()
                        .map_or_else(|| AppError::Other("nothing was decided".into()), |(_, e)| e)
                })?;
        written
            .pop()
            .ok_or_else(|| AppError::Other("nothing was written".into()))
    }

    /// Records a batch of commands in one transaction, or nothing: on any
    /// refusal, every refusal is returned with the command's position.
    pub fn execute_batch(
        &self,
        commands: Vec<(Command, WriteMeta)>,
    ) -> Result<Vec<Written>, Vec<(usize, AppError)>> {
        let one = |e: AppError| vec![(0usize, e)];
        let started = std::time::Instant::now();
        let (writer, projector, written) = self.decide_all(commands)?;
        let decided = started.elapsed();
        let writes = projector.writes().map_err(|e| one(e.into()))?;
        let records = writer.commit(&writes).map_err(|e| one(e.into()))?;
        let committed = started.elapsed();
        self.merkle_after_commit(&records);
        tracing::debug!(
            events = written.len(),
            decided_us = decided.as_micros(),
            durable_us = committed.saturating_sub(decided).as_micros(),
            total_us = started.elapsed().as_micros(),
            "committed"
        );
        Ok(written)
    }

    /// Decides a batch of commands as [`Registry::execute_batch`] would,
    /// and writes nothing: what would be recorded, or every refusal with
    /// the command's position.
    pub fn decide_batch(
        &self,
        commands: Vec<(Command, WriteMeta)>,
    ) -> Result<Vec<Written>, Vec<(usize, AppError)>> {
        self.decide_all(commands).map(|(_, _, written)| written)
    }

    /// Decides and seals every command of a batch, each against the
    /// entity as the batch so far leaves it; commits nothing.
    #[allow(clippy::type_complexity)]
    fn decide_all(
        &self,
        commands: Vec<(Command, WriteMeta)>,
    ) -> Result<(Writer<'_>, Projector<'_>, Vec<Written>), Vec<(usize, AppError)>> {
        let one = |e: AppError| vec![(0usize, e)];
        self.ensure_caught_up().map_err(one)?;
        let mut writer = self.store().writer().map_err(|e| one(e.into()))?;
        let mut projector = Projector::new(self.store());
        let read = Memo::default();
        // a large batch reads its entities' documents on every core first
        if commands.len() >= PREFETCH_IN_PARALLEL {
            let entities: Vec<EntityId> = commands.iter().map(|(c, _)| c.entity()).collect();
            projector.prefetch_all(&entities, workers());
        }
        let mut written = Vec::with_capacity(commands.len());
        let mut errors = Vec::new();
        for (i, (command, meta)) in commands.into_iter().enumerate() {
            match self.decide_one(&mut writer, &mut projector, &read, &command, &meta) {
                Ok(w) => written.push(w),
                Err(e) => errors.push((i, e)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((writer, projector, written))
    }

    fn decide_one(
        &self,
        writer: &mut Writer<'_>,
        projector: &mut Projector<'_>,
        read: &Memo,
        command: &Command,
        meta: &WriteMeta,
    ) -> Result<Written, AppError> {
        let entity = command.entity();
        // The entity as the batch leaves it, else as the store has it.
        projector.prefetch(entity)?;
        let timeline = projector.current(entity);
        let stream = if command.needs_stream(timeline) {
            let mut stream = self.store().stream(entity)?;
            stream.extend(
                writer
                    .sealed()
                    .records
                    .iter()
                    .filter(|r| r.entity == entity)
                    .cloned(),
            );
            stream
        } else {
            Vec::new()
        };
        let version = timeline.map_or(0, AnyTimeline::version);
        if let Some(expected) = meta.expect_version
            && expected != version
        {
            return Err(AppError::Conflict {
                message: format!(
                    "{} is at version {version}, not {expected}",
                    self.label(entity)
                ),
                hint: Some(
                    super::Advice::LookAgain {
                        handle: self
                            .handle(entity)
                            .map_or_else(|_| entity.to_string(), |h| h.to_string()),
                        version,
                    }
                    .into(),
                ),
            });
        }
        let dir = Dir {
            registry: self,
            overlay: projector,
            read,
            failure: RefCell::new(None),
        };
        let subject = Subject {
            timeline,
            stream: &stream,
        };
        let decided = decide(command, meta.reason.as_ref(), subject, &dir);
        // a decision taken on a read that failed is no decision
        if let Some(failure) = dir.failure.into_inner() {
            return Err(failure);
        }
        let event = decided?;
        let pending = PendingEvent {
            id: EventId(self.new_id()),
            entity,
            expected_version: version,
            actor: meta.actor.clone(),
            reason: meta.reason.clone(),
            source: meta.source.clone(),
            event,
        };
        let sealed = writer.seal(&[pending], self.clock().now())?;
        projector.apply_all(&sealed)?;
        let record = sealed
            .records
            .first()
            .ok_or_else(|| AppError::Other("nothing was sealed".into()))?;
        let handle = projector
            .pending(entity)
            .map(|(h, _)| h)
            .ok_or_else(|| AppError::Other("the projector lost an entity".into()))?;
        Ok(Written {
            seq: record.seq,
            event_id: record.id,
            entity,
            handle,
            version: record.version,
        })
    }
}
