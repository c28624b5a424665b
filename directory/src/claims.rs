//! Claims, as DICT does them: *portability* (the same owner moves a key to another participant)
//! and *ownership* (another person claims a phone or e-mail key).
//!
//! States: `Open` (claimer opens) -> `WaitingResolution` (donor acknowledges) -> `Confirmed`
//! (donor confirms; the key leaves the donor) -> `Completed` (claimer completes; the key is the
//! claimer's), or `Cancelled` from any state before `Completed`. While a claim is neither
//! completed nor cancelled the key is locked: no update, delete, register or second claim.
//! Periods: the donor has `claim_resolution_period_ms` (7 days) to answer; an ownership claim
//! can be completed only once its completion period end has passed (at once when the donor
//! confirms on the user's request); a confirmed claim left uncompleted for
//! `claim_completion_period_ms` (30 days) is cancelled by [`Directory::expire_claims`].
//!
//! Guarantees: every transition is one [`DirectoryEvent`], replayable; the donor and claimer are
//! told through [`Notice`]s. Must not: read the clock (time is `now_ms`).

use std::collections::{HashMap, VecDeque};

use crate::{
    Applied, Directory, DirectoryError, DirectoryEvent, Entry, Key, KeyType, Notice, NoticeKind,
};

/// Portability or ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimType {
    /// Another person claims the key (phone or e-mail only).
    Ownership,
    /// The same owner moves the key to another participant (not random keys).
    Portability,
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimStatus {
    /// Opened by the claimer; the donor has been notified.
    Open,
    /// The donor acknowledged it.
    WaitingResolution,
    /// The donor confirmed: the key left the donor.
    Confirmed,
    /// Cancelled (final).
    Cancelled,
    /// The claimer completed it: the key is the claimer's (final).
    Completed,
}

impl ClaimStatus {
    /// Whether the claim still locks its key.
    pub fn is_open(self) -> bool {
        matches!(self, ClaimStatus::Open | ClaimStatus::WaitingResolution | ClaimStatus::Confirmed)
    }
}

/// Why a claim was confirmed or cancelled (DICT reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimReason {
    /// The end user asked.
    UserRequested,
    /// The account is being closed.
    AccountClosure,
    /// Fraud.
    Fraud,
    /// A deadline passed (the directory acts).
    DefaultOperation,
    /// Reconciliation of a participant's copy.
    Reconciliation,
}

/// Which side of a claim acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimSide {
    /// The participant who opened the claim.
    Claimer,
    /// The participant who held the key.
    Donor,
}

/// One claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Id, given by the directory in order.
    pub id: u64,
    /// Portability or ownership.
    pub claim_type: ClaimType,
    /// The claimer's entry: the key, the claimer participant and the account it will point to.
    pub claimer: Entry,
    /// The participant holding the key when the claim was opened.
    pub donor_participant: String,
    /// Where it stands.
    pub status: ClaimStatus,
    /// When it was opened (ms).
    pub opened_at_ms: u64,
    /// Last change (ms).
    pub updated_at_ms: u64,
    /// Until when the donor may answer (ms).
    pub resolution_period_end_ms: u64,
    /// Ownership: from when the claimer may complete (ms); 0 for portability.
    pub completion_period_end_ms: u64,
    /// Once confirmed: until when the claimer may complete (ms); 0 before.
    pub completion_deadline_ms: u64,
    /// Why it was confirmed.
    pub confirm_reason: Option<ClaimReason>,
    /// Why it was cancelled, and by whom.
    pub cancelled: Option<(ClaimSide, ClaimReason)>,
}

impl Claim {
    /// The claimed key.
    pub fn key(&self) -> &Key {
        &self.claimer.key
    }

    /// The participant on the other side from `side`.
    fn participant_of(&self, side: ClaimSide) -> &str {
        match side {
            ClaimSide::Claimer => &self.claimer.participant,
            ClaimSide::Donor => &self.donor_participant,
        }
    }
}

/// Why a claim operation was refused. [`ClaimError::code`] gives the stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// No claim with this id (finished claims are kept only up to a limit).
    #[error("claim not found")]
    NotFound,
    /// A claim on the key is already under way.
    #[error("a claim on this key is already under way (claim {0})")]
    AlreadyExistsForKey(u64),
    /// Random keys cannot be claimed; national-id and tax-id keys can only be ported.
    #[error("this key type cannot be claimed this way")]
    KeyTypeNotAllowed,
    /// The key is not registered: register it instead of claiming it.
    #[error("key not registered; register it instead")]
    KeyNotRegistered,
    /// The claimer already holds the key.
    #[error("the claimer already holds the key")]
    ClaimerIsDonor,
    /// Portability needs the same owner, ownership a different one.
    #[error("portability needs the same owner and ownership a different one")]
    OwnerMismatch,
    /// The participant is not the side of the claim allowed to do this.
    #[error("this participant may not do this on the claim")]
    NotAllowed,
    /// The claim is not in a state that allows this.
    #[error("claim is {0:?}; this operation is not allowed in that state")]
    WrongStatus(ClaimStatus),
    /// The reason is not allowed for this side and claim type.
    #[error("reason not allowed for this side and claim type")]
    InvalidReason,
    /// The donor's resolution period has not ended yet.
    #[error("resolution period has not ended")]
    ResolutionPeriodNotEnded,
    /// The completion period has not ended yet.
    #[error("completion period has not ended")]
    CompletionPeriodNotEnded,
    /// Too many claims under way.
    #[error("too many claims under way (limit {0})")]
    TooMany(usize),
}

impl ClaimError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::NotFound => "ClaimNotFound",
            ClaimError::AlreadyExistsForKey(_) => "ClaimAlreadyExistsForKey",
            ClaimError::KeyTypeNotAllowed => "ClaimKeyTypeNotAllowed",
            ClaimError::KeyNotRegistered => "ClaimKeyNotFound",
            ClaimError::ClaimerIsDonor => "ClaimInvalidParticipant",
            ClaimError::OwnerMismatch => "ClaimTypeInconsistent",
            ClaimError::NotAllowed => "ClaimOperationForbidden",
            ClaimError::WrongStatus(_) => "ClaimInvalidStatus",
            ClaimError::InvalidReason => "InvalidReason",
            ClaimError::ResolutionPeriodNotEnded => "ClaimResolutionPeriodNotEnded",
            ClaimError::CompletionPeriodNotEnded => "ClaimCompletionPeriodNotEnded",
            ClaimError::TooMany(_) => "ClaimLimitExceeded",
        }
    }
}

/// The claims held by the directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimBook {
    pub(crate) claims: HashMap<u64, Claim>,
    pub(crate) open_by_key: HashMap<Key, u64>,
    pub(crate) finished: VecDeque<u64>,
    pub(crate) next_id: u64,
}

impl ClaimBook {
    /// The claim locking the key, if any.
    pub(crate) fn lock_on(&self, key: &Key) -> Option<u64> {
        self.open_by_key.get(key).copied()
    }
}

fn reason_allowed(t: ClaimType, side: ClaimSide, reason: ClaimReason, confirm: bool) -> bool {
    use ClaimReason::*;
    match (confirm, t, side) {
        (true, ClaimType::Ownership, ClaimSide::Donor) => {
            matches!(reason, UserRequested | DefaultOperation)
        }
        (true, ClaimType::Portability, ClaimSide::Donor) => {
            matches!(reason, UserRequested | AccountClosure)
        }
        (true, _, ClaimSide::Claimer) => false,
        (false, ClaimType::Ownership, ClaimSide::Claimer) => {
            matches!(reason, UserRequested | AccountClosure | DefaultOperation | Fraud)
        }
        (false, ClaimType::Ownership, ClaimSide::Donor) => reason == Fraud,
        (false, ClaimType::Portability, ClaimSide::Donor) => {
            matches!(reason, UserRequested | Fraud | DefaultOperation)
        }
        (false, ClaimType::Portability, ClaimSide::Claimer) => {
            matches!(reason, UserRequested | AccountClosure | Fraud | Reconciliation)
        }
    }
}

impl<S: crate::EntryStore> Directory<S> {
    /// Open a claim for the key in `claimer` (its participant and account are where the key
    /// will point). Returns the claim id; the donor gets a notice.
    pub fn open_claim(
        &mut self,
        claim_type: ClaimType,
        claimer: Entry,
        now_ms: u64,
    ) -> Result<(u64, Applied), DirectoryError> {
        self.check_entry(&claimer)?;
        let key_type = claimer.key.key_type();
        let claimable = match claim_type {
            ClaimType::Ownership => matches!(key_type, KeyType::Phone | KeyType::Email),
            ClaimType::Portability => key_type != KeyType::Random,
        };
        if !claimable {
            return Err(ClaimError::KeyTypeNotAllowed.into());
        }
        if let Some(id) = self.claims.lock_on(&claimer.key) {
            return Err(ClaimError::AlreadyExistsForKey(id).into());
        }
        if self.claims.open_by_key.len() >= self.config.open_claims_max {
            return Err(ClaimError::TooMany(self.config.open_claims_max).into());
        }
        let current = self.entries.get(&claimer.key).ok_or(ClaimError::KeyNotRegistered)?;
        let same_owner =
            !current.owner_tax_id.0.is_empty() && current.owner_tax_id == claimer.owner_tax_id;
        match claim_type {
            ClaimType::Portability if current.participant == claimer.participant => {
                return Err(ClaimError::ClaimerIsDonor.into())
            }
            ClaimType::Portability if !same_owner => return Err(ClaimError::OwnerMismatch.into()),
            ClaimType::Ownership if same_owner => return Err(ClaimError::OwnerMismatch.into()),
            ClaimType::Ownership if current.account_ref() == claimer.account_ref() => {
                return Err(ClaimError::ClaimerIsDonor.into())
            }
            _ => {}
        }
        self.check_account_room(&claimer)?;
        let resolution_end = now_ms.saturating_add(self.config.claim_resolution_period_ms);
        let mut claimer = claimer;
        claimer.owned_since_ms = match claim_type {
            ClaimType::Portability => current.owned_since_ms,
            ClaimType::Ownership => 0,
        };
        let claim = Claim {
            id: self.claims.next_id,
            claim_type,
            donor_participant: current.participant.clone(),
            claimer,
            status: ClaimStatus::Open,
            opened_at_ms: now_ms,
            updated_at_ms: now_ms,
            resolution_period_end_ms: resolution_end,
            completion_period_end_ms: match claim_type {
                ClaimType::Ownership => resolution_end,
                ClaimType::Portability => 0,
            },
            completion_deadline_ms: 0,
            confirm_reason: None,
            cancelled: None,
        };
        let id = claim.id;
        self.commit(DirectoryEvent::ClaimOpened { claim }).map(|a| (id, a))
    }

    /// A claim, open or recently finished.
    pub fn claim(&self, id: u64) -> Option<&Claim> {
        self.claims.claims.get(&id)
    }

    /// The claims under way in which `participant` is claimer or donor, by id.
    pub fn open_claims_of(&self, participant: &str) -> Vec<&Claim> {
        let mut v: Vec<&Claim> = self
            .claims
            .open_by_key
            .values()
            .filter_map(|id| self.claims.claims.get(id))
            .filter(|c| c.claimer.participant == participant || c.donor_participant == participant)
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    fn claim_for(&self, id: u64, side: ClaimSide, participant: &str) -> Result<&Claim, ClaimError> {
        let c = self.claims.claims.get(&id).ok_or(ClaimError::NotFound)?;
        if c.participant_of(side) != participant {
            return Err(ClaimError::NotAllowed);
        }
        Ok(c)
    }

    /// The donor acknowledges a claim (`Open` -> `WaitingResolution`). A repeat changes nothing.
    pub fn acknowledge_claim(
        &mut self,
        id: u64,
        donor: &str,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let c = self.claim_for(id, ClaimSide::Donor, donor)?;
        match c.status {
            ClaimStatus::Open => {
                self.commit(DirectoryEvent::ClaimAcknowledged { claim_id: id, at_ms: now_ms })
            }
            ClaimStatus::WaitingResolution => Ok(Applied::default()),
            s => Err(ClaimError::WrongStatus(s).into()),
        }
    }

    /// The donor confirms a claim: the key leaves the donor and waits for the claimer.
    pub fn confirm_claim(
        &mut self,
        id: u64,
        donor: &str,
        reason: ClaimReason,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let c = self.claim_for(id, ClaimSide::Donor, donor)?;
        if c.status == ClaimStatus::Confirmed && c.confirm_reason == Some(reason) {
            return Ok(Applied::default());
        }
        if !matches!(c.status, ClaimStatus::Open | ClaimStatus::WaitingResolution) {
            return Err(ClaimError::WrongStatus(c.status).into());
        }
        if !reason_allowed(c.claim_type, ClaimSide::Donor, reason, true) {
            return Err(ClaimError::InvalidReason.into());
        }
        if reason == ClaimReason::DefaultOperation && now_ms < c.resolution_period_end_ms {
            return Err(ClaimError::ResolutionPeriodNotEnded.into());
        }
        let event = self.confirm_event(c, reason, now_ms);
        self.commit(event)
    }

    fn confirm_event(&self, c: &Claim, reason: ClaimReason, now_ms: u64) -> DirectoryEvent {
        let completion_period_end_ms =
            if c.claim_type == ClaimType::Ownership && reason == ClaimReason::UserRequested {
                now_ms
            } else {
                c.completion_period_end_ms
            };
        let from = now_ms.max(completion_period_end_ms);
        DirectoryEvent::ClaimConfirmed {
            claim_id: c.id,
            reason,
            at_ms: now_ms,
            completion_period_end_ms,
            completion_deadline_ms: from.saturating_add(self.config.claim_completion_period_ms),
        }
    }

    /// Cancel a claim, as claimer or donor, with a reason that side may give. After
    /// confirmation the key stays unregistered (the donor already gave it up).
    pub fn cancel_claim(
        &mut self,
        id: u64,
        participant: &str,
        reason: ClaimReason,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let c = self.claims.claims.get(&id).ok_or(ClaimError::NotFound)?;
        if c.status == ClaimStatus::Cancelled
            && c.cancelled.is_some_and(|(s, r)| r == reason && c.participant_of(s) == participant)
        {
            return Ok(Applied::default());
        }
        if !c.status.is_open() {
            return Err(ClaimError::WrongStatus(c.status).into());
        }
        let mut sides = [ClaimSide::Claimer, ClaimSide::Donor]
            .into_iter()
            .filter(|s| c.participant_of(*s) == participant)
            .peekable();
        if sides.peek().is_none() {
            return Err(ClaimError::NotAllowed.into());
        }
        let side = sides
            .find(|s| reason_allowed(c.claim_type, *s, reason, false))
            .ok_or(ClaimError::InvalidReason)?;
        let early = now_ms < c.resolution_period_end_ms;
        if side == ClaimSide::Donor && reason == ClaimReason::DefaultOperation && early {
            return Err(ClaimError::ResolutionPeriodNotEnded.into());
        }
        self.commit(DirectoryEvent::ClaimCancelled {
            claim_id: id,
            by: side,
            reason,
            at_ms: now_ms,
        })
    }

    /// The claimer completes a confirmed claim: the key now points to the claimer's account.
    pub fn complete_claim(
        &mut self,
        id: u64,
        claimer: &str,
        now_ms: u64,
    ) -> Result<Applied, DirectoryError> {
        let c = self.claim_for(id, ClaimSide::Claimer, claimer)?;
        if c.status != ClaimStatus::Confirmed {
            return Err(ClaimError::WrongStatus(c.status).into());
        }
        if c.claim_type == ClaimType::Ownership && now_ms < c.completion_period_end_ms {
            return Err(ClaimError::CompletionPeriodNotEnded.into());
        }
        self.check_account_room(&c.claimer)?;
        if self.entries.len() >= self.max_entries {
            return Err(DirectoryError::Full(self.max_entries));
        }
        self.commit(DirectoryEvent::ClaimCompleted { claim_id: id, at_ms: now_ms })
    }

    /// Act on passed deadlines, at most `max_events` of them, oldest claim first: an ownership
    /// claim unanswered past its resolution period is confirmed for the donor; a portability
    /// claim unanswered is cancelled for the donor; a confirmed claim not completed by its
    /// deadline is cancelled for the claimer. All with reason `DefaultOperation`.
    pub fn expire_claims(&mut self, now_ms: u64, max_events: usize) -> Applied {
        let mut ids: Vec<u64> = self.claims.open_by_key.values().copied().collect();
        ids.sort_unstable();
        let mut out = Applied::default();
        for id in ids {
            if out.events.len() >= max_events {
                break;
            }
            let Some(c) = self.claims.claims.get(&id) else { continue };
            let waiting = matches!(c.status, ClaimStatus::Open | ClaimStatus::WaitingResolution);
            let reason = ClaimReason::DefaultOperation;
            let event = if waiting && now_ms >= c.resolution_period_end_ms {
                match c.claim_type {
                    ClaimType::Ownership => self.confirm_event(c, reason, now_ms),
                    ClaimType::Portability => DirectoryEvent::ClaimCancelled {
                        claim_id: id,
                        by: ClaimSide::Donor,
                        reason,
                        at_ms: now_ms,
                    },
                }
            } else if c.status == ClaimStatus::Confirmed && now_ms >= c.completion_deadline_ms {
                DirectoryEvent::ClaimCancelled {
                    claim_id: id,
                    by: ClaimSide::Claimer,
                    reason,
                    at_ms: now_ms,
                }
            } else {
                continue;
            };
            if let Ok(a) = self.commit(event) {
                out.events.extend(a.events);
                out.notices.extend(a.notices);
            }
        }
        out
    }

    /// Apply a claim event; returns the notices.
    pub(crate) fn apply_claim(
        &mut self,
        event: &DirectoryEvent,
    ) -> Result<Vec<Notice>, crate::ApplyError> {
        use crate::ApplyError as E;
        let notice = |p: &str, kind| Notice { participant: p.to_string(), kind };
        match event {
            DirectoryEvent::ClaimOpened { claim } => {
                if self.claims.claims.contains_key(&claim.id)
                    || self.claims.open_by_key.contains_key(claim.key())
                {
                    return Err(E::Conflict("claim already exists"));
                }
                self.claims.next_id = self.claims.next_id.max(claim.id.saturating_add(1));
                self.claims.open_by_key.insert(claim.key().clone(), claim.id);
                self.claims.claims.insert(claim.id, claim.clone());
                Ok(vec![notice(&claim.donor_participant, NoticeKind::ClaimOpened(claim.id))])
            }
            DirectoryEvent::ClaimAcknowledged { claim_id, at_ms } => {
                let c = self.open_claim_mut(*claim_id)?;
                c.status = ClaimStatus::WaitingResolution;
                c.updated_at_ms = *at_ms;
                Ok(vec![notice(&c.claimer.participant, NoticeKind::ClaimAcknowledged(c.id))])
            }
            DirectoryEvent::ClaimConfirmed {
                claim_id,
                reason,
                at_ms,
                completion_period_end_ms,
                completion_deadline_ms,
            } => {
                let c = self.open_claim_mut(*claim_id)?;
                c.status = ClaimStatus::Confirmed;
                c.updated_at_ms = *at_ms;
                c.confirm_reason = Some(*reason);
                c.completion_period_end_ms = *completion_period_end_ms;
                c.completion_deadline_ms = *completion_deadline_ms;
                let key = c.key().clone();
                let claimer = c.claimer.participant.clone();
                self.remove_entry(&key);
                Ok(vec![notice(&claimer, NoticeKind::ClaimConfirmed(*claim_id))])
            }
            DirectoryEvent::ClaimCancelled { claim_id, by, reason, at_ms } => {
                let c = self.open_claim_mut(*claim_id)?;
                c.status = ClaimStatus::Cancelled;
                c.updated_at_ms = *at_ms;
                c.cancelled = Some((*by, *reason));
                let other = match by {
                    ClaimSide::Claimer => c.donor_participant.clone(),
                    ClaimSide::Donor => c.claimer.participant.clone(),
                };
                let key = c.key().clone();
                self.finish_claim(*claim_id, &key);
                Ok(vec![notice(&other, NoticeKind::ClaimCancelled(*claim_id))])
            }
            DirectoryEvent::ClaimCompleted { claim_id, at_ms } => {
                let c = self.open_claim_mut(*claim_id)?;
                if c.status != ClaimStatus::Confirmed {
                    return Err(E::Conflict("claim not confirmed"));
                }
                c.status = ClaimStatus::Completed;
                c.updated_at_ms = *at_ms;
                let mut entry = c.claimer.clone();
                let donor = c.donor_participant.clone();
                entry.created_at_ms = *at_ms;
                if entry.owned_since_ms == 0 {
                    entry.owned_since_ms = *at_ms;
                }
                let key = entry.key.clone();
                if self.entries.contains_key(&key) {
                    return Err(E::Conflict("claimed key registered meanwhile"));
                }
                self.finish_claim(*claim_id, &key);
                self.insert_entry(std::sync::Arc::new(entry));
                Ok(vec![notice(&donor, NoticeKind::ClaimCompleted(*claim_id))])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn open_claim_mut(&mut self, id: u64) -> Result<&mut Claim, crate::ApplyError> {
        match self.claims.claims.get_mut(&id) {
            Some(c) if c.status.is_open() => Ok(c),
            Some(_) => Err(crate::ApplyError::Conflict("claim already finished")),
            None => Err(crate::ApplyError::Conflict("claim not found")),
        }
    }

    fn finish_claim(&mut self, id: u64, key: &Key) {
        self.claims.open_by_key.remove(key);
        self.claims.finished.push_back(id);
        while self.claims.finished.len() > self.config.finished_claims_max {
            if let Some(old) = self.claims.finished.pop_front() {
                self.claims.claims.remove(&old);
            }
        }
    }
}
