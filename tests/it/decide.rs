//! Deciding, rule by rule: given a stream and a directory of partners, when
//! a command arrives, then exactly this event, or this refusal.

use std::collections::HashMap;

use pactum::domain::decide::{
    Command, CorrectionField, CorrectionFields, Directory, Refusal, Subject, decide,
};
use pactum::domain::*;

use crate::support::*;

#[derive(Default)]
struct Dir {
    partners: HashMap<PartnerId, (String, bool)>,
    naming: HashMap<PartnerId, Vec<ConventionId>>,
    successions: HashMap<PartnerId, Vec<Succession>>,
    events: HashMap<EventId, (Seq, EntityId)>,
}

impl Directory for Dir {
    fn partner_exists(&self, id: PartnerId) -> bool {
        self.partners.get(&id).is_some_and(|(_, live)| *live)
    }
    fn partners_named(&self, key: &str, except: Option<PartnerId>) -> Vec<PartnerId> {
        self.partners
            .iter()
            .filter(|(id, (name, live))| *live && Some(**id) != except && fold_key(name) == key)
            .map(|(id, _)| *id)
            .collect()
    }
    fn conventions_naming(&self, partner: PartnerId) -> Vec<ConventionId> {
        self.naming.get(&partner).cloned().unwrap_or_default()
    }
    fn successions_of(&self, partner: PartnerId) -> Vec<Succession> {
        self.successions.get(&partner).cloned().unwrap_or_default()
    }
    fn predecessors_of(&self, partner: PartnerId) -> Vec<PartnerId> {
        self.successions
            .iter()
            .filter(|(_, ss)| ss.iter().any(|s| s.succeeded.successors.contains(&partner)))
            .map(|(p, _)| *p)
            .collect()
    }
    fn event_owner(&self, event: EventId) -> Option<(Seq, EntityId)> {
        self.events.get(&event).copied()
    }
    fn label(&self, entity: EntityId) -> String {
        entity.to_string()
    }
}

struct Case {
    stream: Stream,
    dir: Dir,
}

fn given_convention(build: impl FnOnce(&mut Stream)) -> Case {
    let mut dir = Dir::default();
    for n in 1..=3 {
        dir.partners
            .insert(party(n), (format!("Partner {n}"), true));
    }
    let mut stream = Stream::convention();
    build(&mut stream);
    Case { stream, dir }
}

fn signed_2005(s: &mut Stream) -> EventId {
    s.push(Event::ConventionSigned(signed(
        &[party(1), party(2)],
        "2005",
        "objectives",
    )))
}

impl Case {
    fn when(&self, command: Command, reason: Option<&str>) -> Result<Event, Refusal> {
        let reason = reason.map(|r| Reason::new(r).unwrap());
        let timeline =
            pactum::projection::replay(self.stream.entity, &self.stream.records, Seq::MAX);
        let subject = Subject {
            timeline: timeline.as_ref(),
            stream: &self.stream.records,
        };
        let decided = decide(&command, reason.as_ref(), subject, &self.dir);
        // The write path reads the stream only when decide says it needs it.
        if !command.needs_stream(timeline.as_ref()) {
            let lean = Subject {
                timeline: timeline.as_ref(),
                stream: &[],
            };
            assert_eq!(
                decide(&command, reason.as_ref(), lean, &self.dir),
                decided,
                "deciding without the stream"
            );
        }
        decided
    }

    fn amend(&self, a: ConventionAmended) -> Result<Event, Refusal> {
        self.when(
            Command::AmendConvention(self.stream.convention_id(), a),
            None,
        )
    }

    fn correct(
        &self,
        target: Option<EventId>,
        fields: CorrectionFields,
        reason: Option<&str>,
    ) -> Result<Event, Refusal> {
        self.when(
            Command::Correct {
                entity: self.stream.entity,
                target,
                fields,
            },
            reason,
        )
    }
}

#[track_caller]
fn refused(result: Result<Event, Refusal>, expect: impl Fn(&Refusal) -> bool) {
    match result {
        Err(r) if expect(&r) => {}
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn signing_needs_known_distinct_parties_and_a_sane_expiry() {
    let case = given_convention(|_| {});
    let id = case.stream.convention_id();
    let sign = |payload| case.when(Command::SignConvention(id, payload), None);
    refused(sign(signed(&[], "2005", "o")), |r| *r == Refusal::NoParty);
    refused(sign(signed(&[party(1), party(1)], "2005", "o")), |r| {
        matches!(r, Refusal::RepeatedParty(_))
    });
    refused(sign(signed(&[party(9)], "2005", "o")), |r| {
        matches!(r, Refusal::UnknownPartner(_))
    });
    let mut early = signed(&[party(1)], "2005", "o");
    early.expires_on = Some(pd("2004-12"));
    refused(sign(early), |r| matches!(r, Refusal::BeforeSigning { .. }));
    let good = signed(&[party(1), party(2)], "2005", "o");
    assert_eq!(sign(good.clone()), Ok(Event::ConventionSigned(good)));
}

#[test]
fn a_creating_command_on_an_existing_stream_is_refused() {
    let case = given_convention(|s| {
        signed_2005(s);
    });
    let id = case.stream.convention_id();
    refused(
        case.when(
            Command::SignConvention(id, signed(&[party(1)], "2005", "o")),
            None,
        ),
        |r| matches!(r, Refusal::AlreadyExists(_)),
    );
}

#[test]
fn a_duplicate_partner_name_is_refused_whatever_its_accents_and_case() {
    let mut case = given_convention(|_| {});
    case.dir
        .partners
        .insert(party(7), ("Fès-Boulemane".into(), true));
    let mut s = Stream::partner();
    let register = |name: &str| {
        Command::RegisterPartner(
            s.partner_id(),
            PartnerRegistered {
                name: PartnerName::new(name).unwrap(),
                kind: PartnerKind::Region,
                short_name: None,
                country: None,
            },
        )
    };
    refused(case.when(register("FES boulemane"), None), |r| {
        matches!(r, Refusal::DuplicateName { .. })
    });
    assert!(case.when(register("Fès-Meknès"), None).is_ok());
    s.push(Event::PartnerRegistered(PartnerRegistered {
        name: PartnerName::new("Agadir").unwrap(),
        kind: PartnerKind::Commune,
        short_name: None,
        country: None,
    }));
    case.stream = s;
    let rename = |to: &str| {
        Command::RenamePartner(
            case.stream.partner_id(),
            PartnerRenamed {
                new_name: PartnerName::new(to).unwrap(),
                short_name: None,
                effective_on: pd("2015"),
            },
        )
    };
    refused(case.when(rename("Agadir"), None), |r| {
        matches!(r, Refusal::SameName { .. })
    });
    refused(case.when(rename("fès boulemane"), None), |r| {
        matches!(r, Refusal::DuplicateName { .. })
    });
}

#[test]
fn amendments_must_change_something_after_the_signing_and_before_the_end() {
    let case = given_convention(|s| {
        signed_2005(s);
        s.push(Event::ConventionTerminated(ConventionTerminated {
            effective_on: pd("2012"),
            kind: TerminationKind::Terminated,
        }));
    });
    refused(case.amend(amended("2006")), |r| {
        *r == Refusal::EmptyAmendment
    });
    let with_objectives = |date: &str| {
        let mut a = amended(date);
        a.objectives = Some(Objectives::new("new").unwrap());
        a
    };
    refused(case.amend(with_objectives("2004")), |r| {
        matches!(r, Refusal::BeforeSigning { .. })
    });
    refused(case.amend(with_objectives("2013")), |r| {
        matches!(r, Refusal::AfterEnd { .. })
    });
    refused(case.amend(with_objectives("2012-06")), |r| {
        matches!(r, Refusal::AfterEnd { .. })
    });
    let backdated = with_objectives("2010");
    assert_eq!(
        case.amend(backdated.clone()),
        Ok(Event::ConventionAmended(backdated)),
        "an amendment effective before the end is still recordable"
    );
}

#[test]
fn amendments_check_the_parties_they_move() {
    let case = given_convention(|s| {
        signed_2005(s);
    });
    let with = |add: &[PartnerId], remove: &[PartnerId]| {
        let mut a = amended("2006");
        a.parties_added = add.to_vec();
        a.parties_removed = remove.to_vec();
        a
    };
    refused(case.amend(with(&[party(1)], &[])), |r| {
        matches!(r, Refusal::AlreadyParty(_))
    });
    refused(case.amend(with(&[], &[party(3)])), |r| {
        matches!(r, Refusal::NotAParty(_))
    });
    refused(case.amend(with(&[], &[party(1), party(2)])), |r| {
        *r == Refusal::NoPartyLeft
    });
    refused(case.amend(with(&[party(8)], &[])), |r| {
        matches!(r, Refusal::UnknownPartner(_))
    });
    assert!(case.amend(with(&[party(3)], &[party(1)])).is_ok());
}

#[test]
fn terminations_need_a_reason_and_happen_once() {
    let case = given_convention(|s| {
        signed_2005(s);
    });
    let id = case.stream.convention_id();
    let end = |date: &str| {
        Command::TerminateConvention(
            id,
            ConventionTerminated {
                effective_on: pd(date),
                kind: TerminationKind::Terminated,
            },
        )
    };
    refused(case.when(end("2010"), None), |r| {
        *r == Refusal::ReasonRequired(EventType::ConventionTerminated)
    });
    refused(case.when(end("2004"), Some("why")), |r| {
        matches!(r, Refusal::BeforeSigning { .. })
    });
    assert!(case.when(end("2010"), Some("why")).is_ok());
    let ended = given_convention(|s| {
        signed_2005(s);
        s.push(Event::ConventionTerminated(ConventionTerminated {
            effective_on: pd("2010"),
            kind: TerminationKind::Expired,
        }));
    });
    refused(ended.when(end("2011"), Some("again")), |r| {
        matches!(r, Refusal::AlreadyEnded { .. })
    });
}

#[test]
fn corrections_need_a_reason_fields_of_the_target_and_a_real_change() {
    let mut case = given_convention(|s| {
        signed_2005(s);
    });
    let objectives = |t: &str| CorrectionFields {
        objectives: Some(Objectives::new(t).unwrap()),
        ..Default::default()
    };
    refused(case.correct(None, objectives("fixed"), None), |r| {
        *r == Refusal::ReasonRequired(EventType::Corrected)
    });
    refused(
        case.correct(
            None,
            CorrectionFields {
                name: Some(PartnerName::new("x").unwrap()),
                ..Default::default()
            },
            Some("r"),
        ),
        |r| {
            *r == Refusal::FieldsOfAnotherType {
                target: EventType::ConventionSigned,
                fields: vec![CorrectionField::Name],
                accepted: CorrectionField::accepted_by(EventType::ConventionSigned).to_vec(),
            }
        },
    );
    refused(
        case.correct(None, CorrectionFields::default(), Some("r")),
        |r| {
            *r == Refusal::NoCorrectionGiven {
                accepted: CorrectionField::accepted_by(EventType::ConventionSigned).to_vec(),
            }
        },
    );
    refused(
        case.correct(None, objectives("objectives"), Some("r")),
        |r| *r == Refusal::NothingToCorrect,
    );
    let event = case.correct(None, objectives("fixed"), Some("r")).unwrap();
    let Event::Corrected(c) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(
        c.target, case.stream.records[0].id,
        "the default target is the signing"
    );
    // a correction cannot itself be corrected
    let correction = case.stream.push(event);
    refused(
        case.correct(Some(correction), objectives("again"), Some("r")),
        |r| matches!(r, Refusal::NotTargetable { .. }),
    );
    refused(
        case.correct(Some(EventId(uuid(999))), objectives("x"), Some("r")),
        |r| matches!(r, Refusal::NoSuchEvent(_)),
    );
}

#[test]
fn retractions_cannot_target_retractions_or_void_events() {
    let mut case = given_convention(|s| {
        signed_2005(s);
    });
    let mut a = amended("2006");
    a.objectives = Some(Objectives::new("x").unwrap());
    let amendment = case.stream.push(Event::ConventionAmended(a));
    let retract = |target| Command::Retract {
        entity: case.stream.entity,
        target,
    };
    refused(case.when(retract(amendment), None), |r| {
        *r == Refusal::ReasonRequired(EventType::Retracted)
    });
    let event = case
        .when(retract(amendment), Some("wrong convention"))
        .unwrap();
    let retraction = case.stream.push(event);
    let retract = |target| Command::Retract {
        entity: case.stream.entity,
        target,
    };
    refused(case.when(retract(amendment), Some("again")), |r| {
        matches!(r, Refusal::AlreadyVoid { .. })
    });
    refused(case.when(retract(retraction), Some("undo")), |r| {
        matches!(r, Refusal::NotTargetable { .. })
    });
}

#[test]
fn nothing_changes_a_retracted_convention() {
    let mut case = given_convention(|_| {});
    let signing = signed_2005(&mut case.stream);
    case.stream
        .push(Event::Retracted(Retracted { target: signing }));
    let mut a = amended("2006");
    a.objectives = Some(Objectives::new("x").unwrap());
    refused(case.amend(a), |r| matches!(r, Refusal::Retracted(_)));
}

#[test]
fn a_partner_that_conventions_name_cannot_be_retracted() {
    let mut dir = Dir::default();
    let mut s = Stream::partner();
    let registration = s.push(Event::PartnerRegistered(PartnerRegistered {
        name: PartnerName::new("Agadir").unwrap(),
        kind: PartnerKind::Commune,
        short_name: None,
        country: None,
    }));
    dir.naming
        .insert(s.partner_id(), vec![ConventionId(uuid(77))]);
    let case = Case { stream: s, dir };
    refused(
        case.when(
            Command::Retract {
                entity: case.stream.entity,
                target: registration,
            },
            Some("duplicate"),
        ),
        |r| matches!(r, Refusal::PartnerInUse { .. }),
    );
}

/// A partner stream (registered "Meknès-Tafilalet") with partners 1..=3 in
/// the directory, and the directory's successions.
fn given_partner(build: impl FnOnce(&mut Stream)) -> Case {
    let mut dir = Dir::default();
    for n in 1..=3 {
        dir.partners
            .insert(party(n), (format!("Partner {n}"), true));
    }
    let mut stream = Stream::partner();
    stream.push(Event::PartnerRegistered(PartnerRegistered {
        name: PartnerName::new("Meknès-Tafilalet").unwrap(),
        kind: PartnerKind::Region,
        short_name: None,
        country: None,
    }));
    dir.partners
        .insert(stream.partner_id(), ("Meknès-Tafilalet".into(), true));
    build(&mut stream);
    Case { stream, dir }
}

fn succession(successors: &[PartnerId], date: &str) -> PartnerSucceeded {
    PartnerSucceeded {
        successors: successors.to_vec(),
        effective_on: pd(date),
    }
}

impl Case {
    fn succeed(&self, payload: PartnerSucceeded, reason: Option<&str>) -> Result<Event, Refusal> {
        self.when(
            Command::SucceedPartner(self.stream.partner_id(), payload),
            reason,
        )
    }
}

#[test]
fn a_succession_names_known_successors_other_than_the_partner_with_a_reason() {
    let case = given_partner(|_| {});
    let me = case.stream.partner_id();
    let ok = case.succeed(
        succession(&[party(1), party(2)], "2015-09-04"),
        Some("reform"),
    );
    assert_eq!(
        ok,
        Ok(Event::PartnerSucceeded(succession(
            &[party(1), party(2)],
            "2015-09-04"
        )))
    );
    refused(case.succeed(succession(&[party(1)], "2015"), None), |r| {
        *r == Refusal::ReasonRequired(EventType::PartnerSucceeded)
    });
    refused(case.succeed(succession(&[], "2015"), Some("r")), |r| {
        *r == Refusal::NoSuccessor
    });
    refused(
        case.succeed(succession(&[party(1), me], "2015"), Some("r")),
        |r| matches!(r, Refusal::SelfSuccession(_)),
    );
    refused(
        case.succeed(succession(&[party(1), party(1)], "2015"), Some("r")),
        |r| matches!(r, Refusal::RepeatedParty(_)),
    );
    let unknown = case.succeed(succession(&[party(9)], "2015"), Some("r"));
    refused(unknown.clone(), |r| matches!(r, Refusal::UnknownPartner(_)));
    assert_eq!(
        unknown.unwrap_err().class(),
        pactum::domain::decide::RefusalClass::NotFound
    );
}

#[test]
fn a_partner_already_succeeded_is_refused_unless_that_succession_is_void() {
    let case = given_partner(|s| {
        s.push(Event::PartnerSucceeded(succession(&[party(1)], "2015")));
    });
    refused(
        case.succeed(succession(&[party(2)], "2016"), Some("r")),
        |r| matches!(r, Refusal::AlreadySucceeded { on, .. } if *on == pd("2015")),
    );
    let case = given_partner(|s| {
        let id = s.push(Event::PartnerSucceeded(succession(&[party(1)], "2015")));
        s.push(Event::Retracted(Retracted { target: id }));
    });
    assert!(
        case.succeed(succession(&[party(2)], "2016"), Some("r"))
            .is_ok()
    );
}

#[test]
fn a_succession_that_would_close_a_cycle_is_refused_even_by_correction() {
    let mut case = given_partner(|_| {});
    let me = case.stream.partner_id();
    // party 1 was succeeded by party 2, and party 2 by this partner
    let recorded = |partner: PartnerId, successors: &[PartnerId], n: u64| Succession {
        partner,
        seq: Seq(n),
        id: EventId(uuid(90_000 + n)),
        succeeded: succession(successors, "2010"),
    };
    case.dir
        .successions
        .insert(party(1), vec![recorded(party(1), &[party(2)], 1)]);
    case.dir
        .successions
        .insert(party(2), vec![recorded(party(2), &[me], 2)]);
    refused(
        case.succeed(succession(&[party(1)], "2015"), Some("r")),
        |r| matches!(r, Refusal::SuccessionCycle { .. }),
    );
    refused(
        case.succeed(succession(&[party(3), party(2)], "2015"), Some("r")),
        |r| matches!(r, Refusal::SuccessionCycle { .. }),
    );
    assert!(
        case.succeed(succession(&[party(3)], "2015"), Some("r"))
            .is_ok()
    );
    // a correction to a successor that leads back is refused the same way
    let target = case
        .stream
        .push(Event::PartnerSucceeded(succession(&[party(3)], "2015")));
    let fields = CorrectionFields {
        successors: Some(vec![party(1)]),
        ..CorrectionFields::default()
    };
    refused(case.correct(Some(target), fields, Some("r")), |r| {
        matches!(r, Refusal::SuccessionCycle { .. })
    });
    let fields = CorrectionFields {
        effective_on: Some(pd("2016")),
        ..CorrectionFields::default()
    };
    assert!(case.correct(Some(target), fields, Some("r")).is_ok());
}

#[test]
fn a_correction_naming_an_event_of_another_entity_is_refused_before_its_reason() {
    let mut case = given_convention(|s| {
        signed_2005(s);
    });
    let other = EventId(uuid(7_777));
    let partner = EntityId::Partner(party(1));
    case.dir.events.insert(other, (Seq(1), partner));
    let fields = CorrectionFields {
        objectives: Some(Objectives::new("fixed").unwrap()),
        ..Default::default()
    };
    let expected = Refusal::EventOfAnotherEntity {
        event: "#1".into(),
        owner: partner.to_string(),
        entity: case.stream.entity.to_string(),
    };
    refused(case.correct(Some(other), fields.clone(), None), |r| {
        *r == expected
    });
    refused(case.correct(Some(other), fields, Some("r")), |r| {
        *r == expected
    });
}
