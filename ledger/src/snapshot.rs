//! The ledger's whole state as bytes, so that a restart starts from a snapshot and replays
//! only the journal records written after it (see `store::FileJournal::write_snapshot`).
//!
//! Guarantees: `decode_snapshot(encode_snapshot(l))` answers every later call exactly as `l`
//! would (same results, balances, windows, idempotency and compaction); the encoding is
//! canonical (two ledgers that went through the same calls encode to the same bytes, so a
//! restored ledger re-encodes to the bytes it came from); decoding checks every field, every
//! count against the bytes left, and the restored ledger's invariants (a full audit), and
//! answers a clear [`SnapshotError`], never a panic, on damaged or foreign bytes.
//! Must not: do I/O (the journal stores the bytes) or change the ledger it encodes.
//!
//! Use (the switch): on the thread that owns the ledger, at a batch boundary right after the
//! batch's journal records are appended, encode the ledger (inside the switch's own snapshot
//! of its core state) and hand it to the journal as of its last record
//! (`FileJournal::write_snapshot(last_seq, ..)` or `GroupHandle::write_snapshot`); at start,
//! open the journal with `FileJournal::open_with` and rebuild from `Replay::Snapshot` with
//! [`Ledger::decode_snapshot`] before applying the `Replay::Record`s that follow.
//!
//! Format, version 1, little-endian: magic `IPSWLEDG`, version u32, limits, clock, window,
//! running totals, accounts in creation order, reserved transfers sorted by id, finalized
//! transfers in finalization order (with the time each was finalized and, for returns, the
//! original), then the closed unsettled windows with their reports.

use std::collections::BTreeMap;

use crate::settlement::{Direction, NetPosition, SettlementInstruction, WindowReport};
use crate::table::hash_id;
use crate::{
    Account, AccountFlags, Finalized, Kind, Ledger, LedgerLimits, SettlementModel, Slot, State,
    Totals, TransferId, TransferRecord, ACCOUNTS_MAX,
};

/// Magic bytes opening every ledger snapshot.
pub const LEDGER_SNAPSHOT_MAGIC: [u8; 8] = *b"IPSWLEDG";
/// The snapshot format this build writes (and the only one it reads).
pub const LEDGER_SNAPSHOT_VERSION: u32 = 1;

/// Bytes of one encoded transfer record.
const RECORD_BYTES: usize = 16 + 4 + 4 + 8 + 8 + 8 + 1 + 1;
/// Bytes of one encoded account.
const ACCOUNT_BYTES: usize = 8 + 1 + 8 + 4 * 8 + 16;

/// Why bytes could not be restored into a ledger. The journal's own checksums make damage
/// unlikely here: most of these mean a snapshot from another program or format version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes do not start with [`LEDGER_SNAPSHOT_MAGIC`]: not a ledger snapshot.
    #[error("not a ledger snapshot (bad magic)")]
    BadMagic,
    /// Written by a format version this build does not read.
    #[error("ledger snapshot format version {0} is not supported (this build reads {v})", v = LEDGER_SNAPSHOT_VERSION)]
    UnsupportedVersion(u32),
    /// The bytes end before the field named.
    #[error("ledger snapshot truncated at byte {at} reading {what}")]
    Truncated {
        /// Offset where the field should start.
        at: usize,
        /// Which field.
        what: &'static str,
    },
    /// A field holds a value the ledger could never have written; the message says which.
    #[error("ledger snapshot invalid: {0}")]
    Invalid(String),
}

impl WindowReport {
    /// Append this report in the ledger snapshot's encoding (for other snapshots that keep
    /// reports, such as the switch's list of closed windows).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        Writer(out).report(self);
    }

    /// Read a report written by [`WindowReport::encode_into`] that fills `bytes` exactly.
    pub fn decode_from(bytes: &[u8]) -> Result<WindowReport, SnapshotError> {
        let mut r = Reader { data: bytes, at: 0 };
        let report = r.report()?;
        if r.at != bytes.len() {
            return invalid(format!("{} bytes after the window report", bytes.len() - r.at));
        }
        Ok(report)
    }
}

fn invalid<T>(msg: String) -> Result<T, SnapshotError> {
    Err(SnapshotError::Invalid(msg))
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i128(&mut self, v: i128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn report(&mut self, r: &WindowReport) {
        self.u64(r.window);
        self.u64(r.closed_at_ms);
        self.len(r.positions.len());
        for p in &r.positions {
            self.u64(p.account);
            self.i128(p.net);
        }
        self.len(r.instructions.len());
        for i in &r.instructions {
            self.u64(i.account);
            self.u8(match i.direction {
                Direction::Pay => 1,
                Direction::Receive => 2,
            });
            self.u64(i.amount);
        }
    }
    fn record(&mut self, id: TransferId, r: &TransferRecord) {
        self.u128(id);
        self.u32(r.debit);
        self.u32(r.credit);
        self.u64(r.amount);
        self.u64(r.returned);
        self.u64(r.expires_at_ms);
        self.u8(kind_code(r.kind));
        self.u8(state_code(r.state));
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let bytes = end.and_then(|e| self.data.get(self.at..e));
        let Some(bytes) = bytes else {
            return Err(SnapshotError::Truncated { at: self.at, what });
        };
        self.at += n;
        Ok(bytes)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn u128(&mut self, what: &'static str) -> Result<u128, SnapshotError> {
        Ok(u128::from_le_bytes(self.array(what)?))
    }
    fn i128(&mut self, what: &'static str) -> Result<i128, SnapshotError> {
        Ok(i128::from_le_bytes(self.array(what)?))
    }
    /// A count of items of at least `item_bytes` each: never more than the bytes left hold,
    /// so damaged counts cannot make us allocate.
    fn count(&mut self, item_bytes: usize, what: &'static str) -> Result<usize, SnapshotError> {
        let at = self.at;
        let n = self.u64(what)?;
        let left = (self.data.len() - self.at) / item_bytes.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => invalid(format!("{what} count {n} at byte {at} exceeds the bytes left")),
        }
    }
    fn report(&mut self) -> Result<WindowReport, SnapshotError> {
        let at = self.at;
        let window = self.u64("window id")?;
        let closed_at_ms = self.u64("window closed at")?;
        let mut positions = Vec::new();
        for _ in 0..self.count(24, "window positions")? {
            positions.push(NetPosition { account: self.u64("position")?, net: self.i128("net")? });
        }
        let mut instructions = Vec::new();
        for _ in 0..self.count(17, "window instructions")? {
            let account = self.u64("instruction account")?;
            let direction = match self.u8("instruction direction")? {
                1 => Direction::Pay,
                2 => Direction::Receive,
                d => return invalid(format!("window at byte {at}: direction {d}")),
            };
            let amount = self.u64("instruction amount")?;
            instructions.push(SettlementInstruction { account, direction, amount });
        }
        Ok(WindowReport { window, closed_at_ms, positions, instructions })
    }
    fn record(&mut self, accounts: usize) -> Result<(TransferId, TransferRecord), SnapshotError> {
        let at = self.at;
        let id = self.u128("transfer id")?;
        let debit = self.u32("transfer debit")?;
        let credit = self.u32("transfer credit")?;
        let amount = self.u64("transfer amount")?;
        let returned = self.u64("transfer returned")?;
        let expires_at_ms = self.u64("transfer expiry")?;
        let kind = kind_from(self.u8("transfer kind")?)?;
        let state = state_from(self.u8("transfer state")?)?;
        let bad = id == 0
            || amount == 0
            || debit == credit
            || debit as usize >= accounts
            || credit as usize >= accounts
            || returned > amount;
        if bad {
            return invalid(format!("transfer record at byte {at} is not a valid transfer"));
        }
        Ok((id, TransferRecord { debit, credit, amount, returned, expires_at_ms, kind, state }))
    }
}

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::Transfer => 1,
        Kind::Reserve => 2,
        Kind::Fund => 3,
        Kind::Defund => 4,
        Kind::Return => 5,
    }
}

fn kind_from(c: u8) -> Result<Kind, SnapshotError> {
    Ok(match c {
        1 => Kind::Transfer,
        2 => Kind::Reserve,
        3 => Kind::Fund,
        4 => Kind::Defund,
        5 => Kind::Return,
        other => return invalid(format!("unknown transfer kind {other}")),
    })
}

fn state_code(s: State) -> u8 {
    match s {
        State::Posted => 1,
        State::Reserved => 2,
        State::ReservedPosted => 3,
        State::ReservedVoided => 4,
    }
}

fn state_from(c: u8) -> Result<State, SnapshotError> {
    Ok(match c {
        1 => State::Posted,
        2 => State::Reserved,
        3 => State::ReservedPosted,
        4 => State::ReservedVoided,
        other => return invalid(format!("unknown transfer state {other}")),
    })
}

impl Ledger {
    /// Append the ledger's whole state to `out` (see the module documentation for what the
    /// bytes hold). O(accounts + transfers remembered + unsettled windows); reservations are
    /// sorted by id so the bytes are canonical.
    pub fn encode_snapshot(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.0.extend_from_slice(&LEDGER_SNAPSHOT_MAGIC);
        w.u32(LEDGER_SNAPSHOT_VERSION);
        w.len(self.limits.transfers_max);
        w.len(self.limits.windows_unsettled_max);
        w.u64(self.now_ms);
        w.u64(self.window);
        w.i128(self.window_net);
        let t = &self.totals;
        w.i128(t.balance_sum);
        w.i128(t.participant_balance_sum);
        w.i128(t.liquidity_net);
        w.u128(t.reserved_debits);
        w.u128(t.reserved_credits);

        w.len(self.accounts.len());
        for s in self.accounts.values() {
            let a = &s.account;
            w.u64(a.id);
            let (model, cap) = match s.model {
                SettlementModel::Funding => (0, 0),
                SettlementModel::GrossPrefunded => (1, 0),
                SettlementModel::DeferredNet { net_debit_cap } => (2, net_debit_cap),
            };
            w.u8(model);
            w.u64(cap);
            for v in [a.debits_posted, a.credits_posted, a.debits_reserved, a.credits_reserved] {
                w.u64(v);
            }
            w.i128(s.window_net);
        }

        let mut reserved: Vec<(TransferId, &TransferRecord)> =
            self.transfers.iter().filter(|(_, r)| r.state == State::Reserved).collect();
        reserved.sort_unstable_by_key(|(id, _)| *id);
        w.len(reserved.len());
        for (id, r) in reserved {
            w.record(id, r);
        }

        w.len(self.finalized.len());
        for f in &self.finalized {
            // Every finalized entry names a live slot until compaction removes both.
            let (id, r) = self.transfers.entry_at(f.slot).unwrap_or_else(|| {
                crate::invariant_broken("finalized transfer without its record")
            });
            w.u64(f.at_ms);
            w.record(id, r);
            let original =
                if f.is_return { self.returns.get(&id).copied().unwrap_or(0) } else { 0 };
            w.u128(original);
        }

        w.len(self.unsettled.len());
        for r in self.unsettled.values() {
            w.report(r);
        }
    }

    /// Restore a ledger from [`Ledger::encode_snapshot`]'s bytes. Checks every field and then
    /// audits the result; any inconsistency is a [`SnapshotError`], never a panic.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Ledger, SnapshotError> {
        let mut r = Reader { data: bytes, at: 0 };
        if r.take(8, "magic").ok() != Some(&LEDGER_SNAPSHOT_MAGIC[..]) {
            return Err(SnapshotError::BadMagic);
        }
        let version = r.u32("version")?;
        if version != LEDGER_SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let transfers_max = r.u64("transfers_max")?;
        let windows_unsettled_max = r.u64("windows_unsettled_max")?;
        let (Ok(transfers_max), Ok(windows_unsettled_max)) =
            (usize::try_from(transfers_max), usize::try_from(windows_unsettled_max))
        else {
            return invalid("limits do not fit this machine's usize".into());
        };
        let mut l = Ledger::with_limits(LedgerLimits { transfers_max, windows_unsettled_max });
        l.now_ms = r.u64("now_ms")?;
        l.window = r.u64("window")?;
        if l.window == 0 {
            return invalid("open window 0".into());
        }
        l.window_net = r.i128("window_net")?;
        l.totals = Totals {
            balance_sum: r.i128("balance_sum")?,
            participant_balance_sum: r.i128("participant_balance_sum")?,
            liquidity_net: r.i128("liquidity_net")?,
            reserved_debits: r.u128("reserved_debits")?,
            reserved_credits: r.u128("reserved_credits")?,
        };

        let accounts = r.count(ACCOUNT_BYTES, "accounts")?;
        if accounts > ACCOUNTS_MAX {
            return invalid(format!("{accounts} accounts, over ACCOUNTS_MAX"));
        }
        for _ in 0..accounts {
            let at = r.at;
            let id = r.u64("account id")?;
            let model = match (r.u8("account model")?, r.u64("net debit cap")?) {
                (0, 0) => SettlementModel::Funding,
                (1, 0) => SettlementModel::GrossPrefunded,
                (2, net_debit_cap) => SettlementModel::DeferredNet { net_debit_cap },
                (m, c) => return invalid(format!("account at byte {at}: model {m} with cap {c}")),
            };
            if id == 0 || l.accounts.get(&id).is_some() {
                return invalid(format!("account at byte {at}: id {id} is zero or repeated"));
            }
            let flags = match model {
                SettlementModel::GrossPrefunded => AccountFlags::SETTLEMENT,
                _ => AccountFlags::FUNDING,
            };
            let account = Account {
                id,
                flags,
                debits_posted: r.u64("debits_posted")?,
                credits_posted: r.u64("credits_posted")?,
                debits_reserved: r.u64("debits_reserved")?,
                credits_reserved: r.u64("credits_reserved")?,
            };
            let window_net = r.i128("account window_net")?;
            l.accounts.insert(Slot { account, model, window_net });
            l.account_ids.push(id);
            if matches!(model, SettlementModel::DeferredNet { .. }) {
                l.net_accounts.push(id);
            }
        }
        l.account_ids.sort_unstable();
        l.net_accounts.sort_unstable();

        let mut reserved_sum: u128 = 0;
        let reserved = r.count(RECORD_BYTES, "reserved transfers")?;
        if reserved > transfers_max {
            return invalid(format!("{reserved} reserved transfers, over transfers_max"));
        }
        l.transfers.reserve(reserved);
        for _ in 0..reserved {
            let at = r.at;
            let (id, rec) = r.record(accounts)?;
            if rec.kind != Kind::Reserve || rec.state != State::Reserved {
                return invalid(format!("reserved transfer at byte {at} is not a reservation"));
            }
            reserved_sum = reserved_sum.saturating_add(u128::from(rec.amount));
            insert(&mut l, id, rec, at)?;
        }
        let finalized = r.count(8 + RECORD_BYTES + 16, "finalized transfers")?;
        if finalized > transfers_max - reserved {
            return invalid(format!("{reserved} + {finalized} transfers, over transfers_max"));
        }
        l.transfers.reserve(finalized);
        l.finalized.reserve(finalized);
        for _ in 0..finalized {
            let at_ms = r.u64("finalized at")?;
            let at = r.at;
            let (id, rec) = r.record(accounts)?;
            let original = r.u128("return original")?;
            let consistent = match rec.state {
                State::Reserved => false,
                State::Posted => rec.kind != Kind::Reserve,
                State::ReservedPosted | State::ReservedVoided => rec.kind == Kind::Reserve,
            };
            let is_return = rec.kind == Kind::Return;
            if !consistent || is_return != (original != 0) || at_ms > l.now_ms {
                return invalid(format!("finalized transfer at byte {at} is inconsistent"));
            }
            let slot = insert(&mut l, id, rec, at)?;
            l.finalized.push_back(Finalized { at_ms, hash: hash_id(id), slot, is_return });
            if is_return {
                l.returns.insert(id, original);
            }
        }
        if reserved_sum != l.totals.reserved_debits {
            return invalid("reservations do not add up to the reserved totals".into());
        }
        if l.finalized.iter().zip(l.finalized.iter().skip(1)).any(|(a, b)| a.at_ms > b.at_ms) {
            return invalid("finalized transfers out of time order".into());
        }

        let windows = r.count(32, "unsettled windows")?;
        if windows > windows_unsettled_max {
            return invalid(format!("{windows} unsettled windows, over windows_unsettled_max"));
        }
        let mut unsettled = BTreeMap::new();
        for _ in 0..windows {
            let at = r.at;
            let report = r.report()?;
            let window = report.window;
            if window == 0 || window >= l.window || unsettled.insert(window, report).is_some() {
                return invalid(format!("window at byte {at}: number {window} is not closed"));
            }
        }
        l.unsettled = unsettled;
        if r.at != bytes.len() {
            return invalid(format!("{} bytes after the end", bytes.len() - r.at));
        }
        l.audit()
            .map_err(|e| SnapshotError::Invalid(format!("restored ledger fails audit: {e}")))?;
        Ok(l)
    }
}

/// Insert a restored record whose id must not be present yet.
fn insert(
    l: &mut Ledger,
    id: TransferId,
    rec: TransferRecord,
    at: usize,
) -> Result<u32, SnapshotError> {
    let hash = hash_id(id);
    if l.transfers.find(id, hash).is_some() {
        return invalid(format!("transfer at byte {at}: id {id} is repeated"));
    }
    Ok(l.transfers.insert_new(id, hash, rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Ledger {
        let mut l = Ledger::default();
        l.create_account(1, AccountFlags::FUNDING).unwrap();
        l.create_account(10, AccountFlags::SETTLEMENT).unwrap();
        l.create_account(20, AccountFlags::SETTLEMENT).unwrap();
        l.create_net_account(30, 5_000).unwrap();
        l.create_net_account(40, 5_000).unwrap();
        l.fund(1, 1, 10, 10_000, 5).unwrap();
        l.reserve(2, 10, 20, 1_000, 100).unwrap();
        l.post(2, 10).unwrap();
        l.reserve(3, 10, 30, 500, 100).unwrap();
        l.return_transfer(4, 2, 300, 20).unwrap();
        l.reserve(5, 30, 40, 2_000, 100).unwrap();
        l.post(5, 30).unwrap();
        l.close_window(40).unwrap();
        l.reserve(6, 40, 30, 700, 200).unwrap();
        l.void(6).unwrap();
        l
    }

    #[test]
    fn restored_ledger_re_encodes_to_the_same_bytes_and_goes_on_alike() {
        let l = busy();
        let mut bytes = Vec::new();
        l.encode_snapshot(&mut bytes);
        let mut back = Ledger::decode_snapshot(&bytes).unwrap();
        let mut again = Vec::new();
        back.encode_snapshot(&mut again);
        assert_eq!(bytes, again);
        let mut l = l;
        for x in [&mut l, &mut back] {
            assert_eq!(x.reserve(2, 10, 20, 1_000, 100), Err(crate::TransferError::Exists));
            assert_eq!(
                x.return_transfer(7, 2, 701, 50),
                Err(crate::TransferError::ReturnExceedsOriginalAmount)
            );
            x.post(3, 50).unwrap();
            x.settle_window(1, 1, 60).unwrap();
            assert_eq!(x.compact(25), 3);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        l.encode_snapshot(&mut a);
        back.encode_snapshot(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn every_truncation_and_foreign_bytes_are_refused_without_panic() {
        let mut bytes = Vec::new();
        busy().encode_snapshot(&mut bytes);
        for n in 0..bytes.len() {
            assert!(Ledger::decode_snapshot(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Ledger::decode_snapshot(&longer), Err(SnapshotError::Invalid(_))));
        assert_eq!(Ledger::decode_snapshot(b"not a snapshot").err(), Some(SnapshotError::BadMagic));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert_eq!(Ledger::decode_snapshot(&v2).err(), Some(SnapshotError::UnsupportedVersion(2)));
        // Any single flipped byte is refused or yields a ledger that passes its audit.
        for at in 12..bytes.len() {
            let mut d = bytes.clone();
            d[at] ^= 0x41;
            if let Ok(l) = Ledger::decode_snapshot(&d) {
                l.audit().unwrap();
            }
        }
    }
}
