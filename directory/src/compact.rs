//! The compact store: entries as small fixed-size records and an arena of bytes, so that 100
//! million keys fit in one machine's memory and a hit reads a few cache lines.
//!
//! Layout:
//! - keys as 128-bit codes: phones, and national ids and tax ids made of at most 19 digits, as
//!   integers; random keys (UUIDv4) as their 122 random bits; any other key (e-mail, ids of
//!   other shapes) as an offset into the arena, where its text is kept;
//! - an open-addressing table (linear probing, at most 80% full) of 8-byte slots: the top 32
//!   bits of the key's hash and the record number. The table is grown and shrunk from the
//!   slots alone (a slot's home is the top bits of its hash), and deletion shifts the
//!   following slots back, so no tombstones build up;
//! - a 64-byte record per entry (one cache line): key code, dates, request id, owner type,
//!   participant, account type, account number, arena offset of the entry's texts (owner's tax
//!   id, name, trade name, and a copy of the branch and account number, so that a hit reads
//!   the slot, the record and one or two lines of texts, and never the account);
//! - accounts interned once (24 bytes each: participant, key count, arena offset and lengths of
//!   branch and account number) found through a second table; participants interned;
//! - the arena is one `String`, each text's length kept as one `char` (an entry's lengths
//!   first, then its texts; a key's text after its length), so texts are lent as `&str`
//!   without a UTF-8 check. Texts are at most 55,295 bytes (longer ones are cut
//!   at a character boundary; the directory's own limits are far lower);
//! - the index slots and the records live in memory advised for transparent huge pages once
//!   they pass 2 MiB ([`crate::hugemem`]): a hit reads lines at random in gigabytes, and with
//!   4 KiB pages each read would also miss the TLB and walk page tables. (The arena stays a
//!   `String`: as bytes in such memory, the UTF-8 check of an entry's texts cost more than
//!   the page walks it saved, in alternating runs at 20 M keys.)
//!
//! Guarantees: gives exactly the answers [`crate::SharedStore`] gives (tests compare both);
//! every limit is explicit: at most `u32::MAX - 1` records and accounts (a store that reached
//! it refuses nothing but stops indexing, so the directory's own `max_entries` must stay below
//! it). Arena bytes of removed or replaced entries are not reused (counted in
//! [`CompactStore::garbage_bytes`]); [`CompactStore::rebuilt`] reclaims them.
//! Must not: check rules (the directory does), allocate on a lookup, or hold personal data in
//! its `Debug` output.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::fasthash::SeededState;
use crate::hugemem::HugeVec;
use crate::keys::KEY_LEN_MAX;
use crate::store::{AccountParts, EntryStore, EntryView};
use crate::{Entry, Key, KeyType, Masked, OwnerType, ACCOUNT_TYPES};

/// Most records (and accounts) the store can number.
pub const RECORDS_MAX: usize = (u32::MAX - 1) as usize;

/// Tags in the top 4 bits of a key code. 0 marks a free record.
const TAG_PHONE: u8 = 1;
const TAG_NATIONAL_DIGITS: u8 = 2;
const TAG_TAX_DIGITS: u8 = 3;
const TAG_RANDOM: u8 = 4;
/// Text keys: this plus [`KeyType::to_u8`].
const TAG_TEXT: u8 = 8;

/// Keys compared while probing: an integer code, or a text kept in the arena.
#[derive(Clone, Copy)]
enum Probe<'k> {
    Code(u128),
    Text(u8, &'k [u8]),
}

fn digits_value(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

fn tagged(tag: u8, payload: u128) -> u128 {
    (u128::from(tag) << 124) | payload
}

fn tag_of(code: u128) -> u8 {
    (code >> 124) as u8
}

/// The probe for a key: its integer code, or its text.
#[inline(always)]
fn probe_of(key: &Key) -> Probe<'_> {
    let b = key.text_bytes();
    let (padded, len) = key.text_padded();
    let text = Probe::Text(TAG_TEXT + key.key_type().to_u8(), b);
    match key.key_type() {
        KeyType::Phone => match b.split_first() {
            Some((b'+', rest)) if rest.first() != Some(&b'0') => digits_at(padded, 1, len - 1)
                .map_or(text, |v| Probe::Code(tagged(TAG_PHONE, u128::from(v)))),
            _ => text,
        },
        KeyType::NationalId | KeyType::TaxId => {
            let tag = if key.key_type() == KeyType::NationalId {
                TAG_NATIONAL_DIGITS
            } else {
                TAG_TAX_DIGITS
            };
            digits_at(padded, 0, len)
                .map_or(text, |v| Probe::Code(tagged(tag, ((len as u128) << 64) | u128::from(v))))
        }
        KeyType::Random => uuid_code(padded, len).map_or(text, Probe::Code),
        KeyType::Email => text,
    }
}

/// ASCII `'0'` in every byte.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The 8 bytes of `b` from `at`, little-endian (`at` is at most `KEY_LEN_MAX - 8`; 0 past it).
#[inline]
fn load8(b: &[u8; KEY_LEN_MAX], at: usize) -> u64 {
    b.get(at..).and_then(|s| s.first_chunk::<8>()).map_or(0, |w| u64::from_le_bytes(*w))
}

/// The value of the `n` (1 to 8) ASCII digits in the low `n` bytes of `x` (the first digit in
/// the lowest byte), or `None` if one of them is not a digit. Eight at a time: the digits are
/// moved to the top bytes, `'0'`s fill the bytes below, then pairs, fours and the eight are
/// combined with three multiplications.
#[inline]
fn digits8(x: u64, n: usize) -> Option<u64> {
    let drop = (8 * (8 - n.clamp(1, 8))) as u32;
    let x = (x << drop) | ASCII_ZEROS.checked_shr(64 - drop).unwrap_or(0);
    let high = 0xf0f0_f0f0_f0f0_f0f0u64;
    if (x & high) | ((x.wrapping_add(0x0606_0606_0606_0606) & high) >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = x & 0x0f0f_0f0f_0f0f_0f0f;
    let v = (v.wrapping_mul(2561) >> 8) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(6_553_601) >> 16) & 0x0000_ffff_0000_ffff;
    Some(v.wrapping_mul(42_949_672_960_001) >> 32)
}

/// The value of the `n` ASCII digits of `b` from `at` (1 to 19 of them; `None` otherwise or if
/// one is not a digit): eight at a time up to 16, one at a time beyond.
#[inline]
fn digits_at(b: &[u8; KEY_LEN_MAX], at: usize, n: usize) -> Option<u64> {
    match n {
        1..=8 => digits8(load8(b, at), n),
        9..=16 => {
            let high = digits8(load8(b, at), n - 8)?;
            let low = digits8(load8(b, at + n - 8), 8)?;
            Some(high * 100_000_000 + low)
        }
        _ => digits_value(b.get(at..at + n)?),
    }
}

/// The value of 8 lower-case hex digits held little-endian in `x` (first digit most
/// significant). Any other bytes give some value: callers pass only validated key text.
#[inline]
fn hex8(x: u64) -> u64 {
    // '0'..'9' keep their low nibble; 'a'..'f' (bit 6 set) add 9 to it.
    let v = (x & 0x0f0f_0f0f_0f0f_0f0f) + 9 * ((x >> 6) & 0x0101_0101_0101_0101);
    let v = ((v << 4) | (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = ((v << 8) | (v >> 16)) & 0x0000_ffff_0000_ffff;
    ((v << 16) | (v >> 32)) & 0xffff_ffff
}

/// A UUIDv4 (lower-case, version nibble `4`) as its 124 bits without the version nibble.
/// The text is a valid key's (checked at parse), so only its shape is checked here.
#[inline]
fn uuid_code(b: &[u8; KEY_LEN_MAX], len: usize) -> Option<u128> {
    if len != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' || b[14] != b'4'
    {
        return None;
    }
    let low4 = |at: usize| load8(b, at) & 0xffff_ffff;
    // Digits 0-8, 9-12 and 14-17, 19-22 and 24-27, 28-35: four groups of eight.
    let g0 = u128::from(hex8(load8(b, 0)));
    let g1 = u128::from(hex8(low4(9) | (low4(14) << 32)));
    let g2 = u128::from(hex8(low4(19) | (low4(24) << 32)));
    let g3 = u128::from(hex8(load8(b, 28)));
    let all = (g0 << 96) | (g1 << 64) | (g2 << 32) | g3;
    // Without the version nibble (bits 76 to 79).
    let v = ((all >> 80) << 76) | (all & ((1u128 << 76) - 1));
    Some(tagged(TAG_RANDOM, v))
}

/// The key text of an integer code.
fn code_text(code: u128) -> Option<(KeyType, String)> {
    let payload = code & ((1u128 << 124) - 1);
    match tag_of(code) {
        TAG_PHONE => Some((KeyType::Phone, format!("+{payload}"))),
        t @ (TAG_NATIONAL_DIGITS | TAG_TAX_DIGITS) => {
            let len = (payload >> 64) as usize;
            let v = payload as u64;
            let kind = if t == TAG_NATIONAL_DIGITS { KeyType::NationalId } else { KeyType::TaxId };
            Some((kind, format!("{v:0len$}")))
        }
        TAG_RANDOM => {
            let mut s = String::with_capacity(36);
            let mut shift = 124u32;
            for i in 0..36usize {
                let c = match i {
                    8 | 13 | 18 | 23 => '-',
                    14 => '4',
                    _ => {
                        shift = shift.saturating_sub(4);
                        char::from_digit(((payload >> shift) & 0xf) as u32, 16).unwrap_or('0')
                    }
                };
                s.push(c);
            }
            Some((KeyType::Random, s))
        }
        _ => None,
    }
}

/// An open-addressing table of `(hash top 32 bits, number + 1)` slots; 0 is empty.
#[derive(Debug, Clone, Default)]
struct Table {
    slots: HugeVec<u64>,
    bits: u32,
    len: usize,
}

const TABLE_BITS_MIN: u32 = 4;
const TABLE_BITS_MAX: u32 = 32;

impl Table {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    #[inline]
    fn home(&self, fp: u32) -> usize {
        if self.bits == 0 {
            0
        } else {
            (fp >> (32 - self.bits)) as usize
        }
    }

    /// The slot index and number of the first slot with this hash whose number `eq` accepts.
    #[inline]
    fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<(usize, u32)> {
        // The slice once (a mapped array's is worked out on each access).
        let slots: &[u64] = &self.slots;
        if slots.is_empty() {
            return None;
        }
        let fp = (hash >> 32) as u32;
        let mask = slots.len().wrapping_sub(1);
        let mut i = self.home(fp);
        loop {
            let s = slots.get(i).copied().unwrap_or(0);
            if s == 0 {
                return None;
            }
            if (s >> 32) as u32 == fp {
                let n = (s as u32).wrapping_sub(1);
                if eq(n) {
                    return Some((i, n));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Room for `n` numbers at most 80% full.
    fn reserve_total(&mut self, n: usize) {
        let want = n.saturating_mul(5) / 4 + 1;
        let mut bits = self.bits.max(TABLE_BITS_MIN);
        while (1usize << bits) < want && bits < TABLE_BITS_MAX {
            bits += 1;
        }
        if bits != self.bits {
            self.rebuild(bits);
        }
    }

    fn rebuild(&mut self, bits: u32) {
        let old = std::mem::replace(&mut self.slots, HugeVec::zeroed(1usize << bits));
        self.bits = bits;
        for s in old.iter().copied().filter(|s| *s != 0) {
            self.place(s);
        }
    }

    fn place(&mut self, s: u64) {
        let mask = self.mask();
        let mut i = self.home((s >> 32) as u32);
        while let Some(slot) = self.slots.get_mut(i) {
            if *slot == 0 {
                *slot = s;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Add a number under `hash` (not already present).
    fn insert(&mut self, hash: u64, n: u32) {
        self.reserve_total(self.len + 1);
        self.place(((hash >> 32) << 32) | u64::from(n.wrapping_add(1)));
        self.len += 1;
    }

    /// Empty slot `i`, shifting back the slots after it that may move closer to their home.
    fn remove_at(&mut self, i: usize) {
        let mask = self.mask();
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let s = self.slots.get(j).copied().unwrap_or(0);
            if s == 0 {
                break;
            }
            let home = self.home((s >> 32) as u32);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = s;
                }
                hole = j;
            }
            j = (j + 1) & mask;
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = 0;
        }
        self.len = self.len.saturating_sub(1);
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// One entry: 64 bytes, one cache line.
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Record {
    key: u128,
    created_at_ms: u64,
    owned_since_ms: u64,
    request_id: [u8; 16],
    /// Arena offset of the entry's texts ([`put_texts`]): owner's tax id, name, trade name,
    /// then (a copy of the account's) type when it is not one of [`ACCOUNT_TYPES`], branch,
    /// account number.
    owner: u64,
    account: u32,
    owner_type: u8,
    /// The account type: index in [`ACCOUNT_TYPES`], or [`ACCOUNT_LONG`] (then in the texts).
    kind: u8,
    /// The participant's number, or [`u16::MAX`] to read it from the account.
    participant: u16,
}

/// Account type code for a type that is not one of [`ACCOUNT_TYPES`], or a branch or number
/// longer than 255 bytes: type, branch and number are then all texts at `text`.
const ACCOUNT_LONG: u8 = 0xff;

/// One account: 24 bytes.
#[derive(Debug, Clone, Copy)]
struct AccountRec {
    participant: u32,
    keys: u32,
    /// Arena offset of the branch and account number texts (after lengths).
    text: u64,
    /// Index in [`ACCOUNT_TYPES`], or [`ACCOUNT_LONG`].
    kind: u8,
    branch_len: u8,
    account_len: u8,
}

/// The memory-lean store (see the module documentation).
#[derive(Clone)]
pub struct CompactStore {
    hasher: SeededState,
    index: Table,
    records: HugeVec<Record>,
    free_records: Vec<u32>,
    arena: String,
    garbage: usize,
    accounts: Vec<AccountRec>,
    account_index: Table,
    free_accounts: Vec<u32>,
    participants: Vec<Box<str>>,
    participant_ids: HashMap<Box<str>, u32>,
    /// The account of the last insert ([`u32::MAX`] for none): keys of one account usually
    /// come together, and comparing with it saves hashing the account again.
    last_account: u32,
}

impl fmt::Debug for CompactStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactStore")
            .field("entries", &self.index.len)
            .field("accounts", &self.account_index.len)
            .field("participants", &self.participants.len())
            .field("arena_bytes", &self.arena.len())
            .field("garbage_bytes", &self.garbage)
            .finish()
    }
}

/// Bytes of a cache line, for reading an entry's texts ahead.
const TEXT_LINE: usize = 64;

/// Steps between the stages of [`CompactStore::view_many`]'s pipeline: a key's slot is
/// fetched ahead `PIPE_DISTANCE` keys before it is scanned, its record as many before it is
/// read, its texts as many before they are read.
pub const PIPE_DISTANCE: usize = 6;

/// Keys in flight in the pipeline (at least `3 * PIPE_DISTANCE + 1`).
const PIPE_RING: usize = 32;

/// No record: the key's slots ended before any slot with its hash bits.
const NO_RECORD: u32 = u32::MAX;

/// One key of the batch pipeline: its probe and hash, home slot, and the record of the first
/// slot with its hash bits.
#[derive(Clone, Copy)]
struct Lane<'k> {
    probe: Probe<'k>,
    hash: u64,
    home: usize,
    record: u32,
}

impl Lane<'_> {
    const EMPTY: Lane<'static> =
        Lane { probe: Probe::Code(0), hash: 0, home: 0, record: NO_RECORD };
}

/// Ask for the line holding `v` to be fetched into every cache level (a hint: no fault, no
/// wait; `prefetcht0`). Hints for the L2 or non-temporal measured no different for records.
#[inline(always)]
fn prefetch<T>(v: Option<&T>) {
    if let Some(v) = v {
        mem_prefetch::prefetch_read_data::<T, 3>(v);
    }
}

/// Longest text the arena holds, in bytes (the largest length one `char` below the surrogates
/// can say).
pub const TEXT_LEN_MAX: usize = 0xd7ff;

/// Append a text: its length as one `char`, then the text (cut at `TEXT_LEN_MAX` bytes).
fn put_str(arena: &mut String, s: &str) {
    let end = kept_len(s);
    arena.push(char::from_u32(end as u32).unwrap_or('\0'));
    arena.push_str(s.get(..end).unwrap_or_default());
}

/// Read a text written by [`put_str`] at `*at`, advancing past it.
#[inline]
fn get_str<'a>(arena: &'a str, at: &mut usize) -> &'a str {
    let bytes = arena.as_bytes();
    let (len, width) = match bytes.get(*at) {
        Some(b) if *b < 0x80 => (usize::from(*b), 1),
        Some(_) => match arena.get(*at..).and_then(|r| r.chars().next()) {
            Some(c) => (c as usize, c.len_utf8()),
            None => (0, 1),
        },
        None => (0, 0),
    };
    let start = *at + width;
    *at = start + len;
    arena.get(start..start + len).unwrap_or_default()
}

/// The length of a text as kept: at most `TEXT_LEN_MAX` bytes, cut at a `char` boundary.
fn kept_len(s: &str) -> usize {
    let mut end = s.len().min(TEXT_LEN_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Append an entry's texts: first their lengths, each as one `char` (as [`put_str`]), then the
/// texts one after another, so that reading them takes one check of the lengths and one
/// `char`-boundary check per text.
fn put_texts(arena: &mut String, texts: &[&str]) {
    for s in texts {
        arena.push(char::from_u32(kept_len(s) as u32).unwrap_or('\0'));
    }
    for s in texts {
        arena.push_str(s.get(..kept_len(s)).unwrap_or_default());
    }
}

/// The `N` (at most 8) texts written by [`put_texts`] at the start of `run` (`""` for any the
/// run cuts short).
#[inline(always)]
fn get_texts<const N: usize>(run: &str) -> [&str; N] {
    let mut lens = [0usize; N];
    let bytes = run.as_bytes();
    // Nearly always every length is below 128, so one byte each: checked 8 bytes at once.
    let high = 0x8080_8080_8080_8080u64.checked_shr(64 - 8 * N as u32).unwrap_or(0);
    let head = bytes.first_chunk::<8>().map(|h| u64::from_le_bytes(*h));
    let mut rest = match head.filter(|h| h & high == 0) {
        Some(_) => {
            for (l, b) in lens.iter_mut().zip(bytes) {
                *l = usize::from(*b);
            }
            run.get(N..).unwrap_or_default()
        }
        None => {
            let mut end = 0;
            for (l, (i, c)) in lens.iter_mut().zip(run.char_indices()) {
                *l = c as usize;
                end = i + c.len_utf8();
            }
            run.get(end..).unwrap_or_default()
        }
    };
    let mut texts = [""; N];
    for (t, len) in texts.iter_mut().zip(lens) {
        match rest.split_at_checked(len) {
            Some((text, after)) => {
                *t = text;
                rest = after;
            }
            None => rest = "",
        }
    }
    texts
}

impl CompactStore {
    /// Arena bytes no longer referenced (removed or replaced entries).
    pub fn garbage_bytes(&self) -> usize {
        self.garbage
    }

    /// The same entries in a fresh store (same seed), without the garbage: what
    /// [`crate::Directory::reclaim_garbage`] swaps in. Reads every entry once.
    pub fn rebuilt(&self) -> CompactStore {
        let mut fresh = CompactStore::with_seed(self.hasher.0);
        fresh.reserve(self.len());
        self.for_each(&mut |e| fresh.insert(Arc::new(e.clone())));
        fresh
    }

    /// Bytes the store uses: its tables whole, and the records, accounts and arena up to
    /// their length (address space reserved beyond it is not touched, so costs no memory).
    pub fn allocated_bytes(&self) -> usize {
        self.index.bytes()
            + self.account_index.bytes()
            + self.records.len() * std::mem::size_of::<Record>()
            + self.accounts.len() * std::mem::size_of::<AccountRec>()
            + self.arena.len()
            + (self.free_records.len() + self.free_accounts.len()) * 4
            + self.participants.iter().map(|p| p.len() * 2 + 48).sum::<usize>()
    }

    #[inline(always)]
    fn hash_probe(&self, p: Probe<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        match p {
            Probe::Code(c) => {
                h.write_u64(c as u64);
                h.write_u64((c >> 64) as u64);
            }
            Probe::Text(tag, b) => {
                h.write_u8(tag);
                h.write(b);
            }
        }
        h.finish()
    }

    #[inline]
    fn key_matches(&self, n: u32, p: Probe<'_>) -> bool {
        self.records.get(n as usize).is_some_and(|r| self.record_matches(r, p))
    }

    /// Whether the record holds the probe's key.
    #[inline(always)]
    fn record_matches(&self, r: &Record, p: Probe<'_>) -> bool {
        match p {
            Probe::Code(c) => r.key == c,
            Probe::Text(tag, b) => {
                if tag_of(r.key) != tag {
                    return false;
                }
                let mut at = (r.key as u64) as usize;
                get_str(&self.arena, &mut at).as_bytes() == b
            }
        }
    }

    #[inline]
    fn find(&self, key: &Key) -> Option<(usize, u32)> {
        let p = probe_of(key);
        let hash = self.hash_probe(p);
        self.index.find(hash, |n| self.key_matches(n, p))
    }

    fn account_hash(&self, parts: AccountParts<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u64(0xacc0);
        for p in parts {
            h.write(p.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// Type, branch and number of an account.
    #[inline]
    fn account_text<'s>(&'s self, a: &AccountRec) -> (&'s str, &'s str, &'s str) {
        let mut at = a.text as usize;
        if a.kind == ACCOUNT_LONG {
            let t = get_str(&self.arena, &mut at);
            let b = get_str(&self.arena, &mut at);
            let n = get_str(&self.arena, &mut at);
            return (t, b, n);
        }
        let t = ACCOUNT_TYPES.get(usize::from(a.kind)).copied().unwrap_or_default();
        let (bl, al) = (usize::from(a.branch_len), usize::from(a.account_len));
        let b = self.arena.get(at..at + bl).unwrap_or_default();
        at += bl;
        let n = self.arena.get(at..at + al).unwrap_or_default();
        (t, b, n)
    }

    fn participant_name(&self, id: u32) -> &str {
        self.participants.get(id as usize).map_or("", |p| p)
    }

    fn account_matches(&self, n: u32, parts: AccountParts<'_>) -> bool {
        let Some(a) = self.accounts.get(n as usize) else { return false };
        let (t, b, acct) = self.account_text(a);
        self.participant_name(a.participant) == parts[0]
            && b == parts[1]
            && acct == parts[2]
            && t == parts[3]
    }

    /// The account's number, from the last insert's when it is the same.
    fn account_number(&self, parts: AccountParts<'_>) -> Option<u32> {
        if self.last_account != u32::MAX && self.account_matches(self.last_account, parts) {
            return Some(self.last_account);
        }
        self.find_account(parts).map(|(_, n)| n)
    }

    fn find_account(&self, parts: AccountParts<'_>) -> Option<(usize, u32)> {
        let hash = self.account_hash(parts);
        self.account_index.find(hash, |n| self.account_matches(n, parts))
    }

    fn participant_id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.participant_ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.participants.len()).unwrap_or(u32::MAX);
        self.participants.push(name.into());
        self.participant_ids.insert(name.into(), id);
        id
    }

    /// The account's number, creating it (with no keys) when new.
    fn account_for(&mut self, e: &EntryView<'_>) -> u32 {
        let parts = [e.participant, e.branch, e.account.0, e.account_type];
        if let Some(n) = self.account_number(parts) {
            return n;
        }
        let participant = self.participant_id(e.participant);
        let code = ACCOUNT_TYPES.iter().position(|t| *t == e.account_type);
        let (b, a) = (e.branch, e.account.0);
        let text = self.arena.len() as u64;
        let (kind, branch_len, account_len) = match code {
            Some(c) if b.len() <= 255 && a.len() <= 255 => {
                self.arena.push_str(b);
                self.arena.push_str(a);
                (c as u8, b.len() as u8, a.len() as u8)
            }
            _ => {
                for s in [e.account_type, b, a] {
                    put_str(&mut self.arena, s);
                }
                (ACCOUNT_LONG, 0, 0)
            }
        };
        let rec = AccountRec { participant, keys: 0, text, kind, branch_len, account_len };
        let n = match self.free_accounts.pop() {
            Some(n) => {
                if let Some(slot) = self.accounts.get_mut(n as usize) {
                    *slot = rec;
                }
                n
            }
            None => {
                let n = u32::try_from(self.accounts.len()).unwrap_or(u32::MAX);
                self.accounts.push(rec);
                n
            }
        };
        let hash = self.account_hash(parts);
        self.account_index.insert(hash, n);
        n
    }

    /// [`EntryStore::view_many`] with the pipeline's distance `D` between stages, `RING` keys
    /// in flight (more than `3 * D`, else one key at a time), and whether the line after the
    /// first of an entry's texts is fetched ahead too: for measuring other settings in one
    /// process ([`crate::bench::run_tune`]). Same answers whatever these settings.
    ///
    /// `DIAG` is 0 except to measure what each read costs, and then the answers are wrong:
    /// 1 reads slots and records only (views without texts), 3 reads slots only (all `None`).
    pub(crate) fn view_many_piped<
        's,
        const D: usize,
        const RING: usize,
        const NEXT: bool,
        const DIAG: u8,
    >(
        &'s self,
        keys: &[Key],
        out: &mut Vec<Option<EntryView<'s>>>,
    ) {
        out.clear();
        out.reserve(keys.len());
        let slots: &[u64] = &self.index.slots;
        let records: &[Record] = &self.records;
        let arena = self.arena.as_bytes();
        if slots.is_empty() || RING <= 3 * D {
            out.extend(keys.iter().map(|k| self.view(k)));
            return;
        }
        let fp_shift = 32 - self.index.bits;
        let mask = self.index.mask();
        // A software pipeline across the batch (see [`PIPE_DISTANCE`]): at step `t`, key `t` is
        // hashed and its home slot fetched ahead; key `t - D` scans its slots (now in cache)
        // and its record is fetched ahead; key `t - 2D` reads its record and its texts are
        // fetched ahead; key `t - 3D` is compared and its view built. No step waits on a
        // miss of its own key issued less than `D` steps earlier.
        let mut lanes = [Lane::EMPTY; RING];
        let n = keys.len();
        for t in 0..n + 3 * D {
            if let Some(k) = keys.get(t) {
                let p = probe_of(k);
                let hash = self.hash_probe(p);
                let home = if self.index.bits == 0 { 0 } else { (hash >> 32 >> fp_shift) as usize };
                prefetch(slots.get(home));
                if let Some(l) = lanes.get_mut(t % RING) {
                    *l = Lane { probe: p, hash, home, record: NO_RECORD };
                }
            }
            if let Some(l) = t.checked_sub(D).filter(|j| *j < n) {
                if let Some(l) = lanes.get_mut(l % RING) {
                    let fp = (l.hash >> 32) as u32;
                    let mut i = l.home;
                    loop {
                        let s = slots.get(i).copied().unwrap_or(0);
                        if s == 0 {
                            break;
                        }
                        if (s >> 32) as u32 == fp {
                            l.record = (s as u32).wrapping_sub(1);
                            if DIAG != 3 {
                                prefetch(records.get(l.record as usize));
                            }
                            break;
                        }
                        i = (i + 1) & mask;
                    }
                }
            }
            if let Some(l) = t.checked_sub(2 * D).filter(|j| *j < n && DIAG != 1 && DIAG != 3) {
                if let Some(r) = lanes.get(l % RING).and_then(|l| records.get(l.record as usize)) {
                    // The texts (about 40 bytes) start anywhere in a line: more than half of
                    // them run into the next line, so fetch that one too. A text key's own
                    // text sits just before them.
                    let at = r.owner as usize;
                    prefetch(arena.get(at));
                    if NEXT {
                        prefetch(arena.get((at | (TEXT_LINE - 1)) + 1));
                    }
                    if tag_of(r.key) >= TAG_TEXT {
                        prefetch(arena.get((r.key as u64) as usize));
                    }
                }
            }
            if let Some(l) = t.checked_sub(3 * D).filter(|j| *j < n) {
                let view = match lanes.get(l % RING) {
                    Some(_) if DIAG == 3 => None,
                    Some(l) if l.record != NO_RECORD => {
                        let r = records.get(l.record as usize);
                        if let Some(r) = r.filter(|r| self.record_matches(r, l.probe)) {
                            if DIAG == 1 {
                                Some(self.view_record_only(r))
                            } else {
                                Some(self.view_at(r))
                            }
                        } else {
                            // Another key with the same 32 hash bits came first: the full
                            // probe (rare: about one key in 4 billion).
                            self.index
                                .find(l.hash, |n| self.key_matches(n, l.probe))
                                .and_then(|(_, n)| self.view_of(n))
                        }
                    }
                    _ => None,
                };
                out.push(view);
            }
        }
    }

    /// The view of record `n`.
    #[inline]
    fn view_of(&self, n: u32) -> Option<EntryView<'_>> {
        Some(self.view_at(self.records.get(n as usize)?))
    }

    /// A view of the record's fields only (no texts): for diagnosing where time goes.
    fn view_record_only(&self, r: &Record) -> EntryView<'_> {
        EntryView {
            participant: self.participant_name(u32::from(r.participant)),
            branch: "",
            account: Masked(""),
            account_type: "",
            owner_name: Masked(""),
            owner_type: if r.owner_type == 1 { OwnerType::Legal } else { OwnerType::Natural },
            owner_tax_id: Masked(""),
            trade_name: Masked(""),
            created_at_ms: r.created_at_ms,
            owned_since_ms: r.owned_since_ms,
            request_id: r.request_id,
        }
    }

    /// The view of a record.
    #[inline(always)]
    fn view_at(&self, r: &Record) -> EntryView<'_> {
        let run = self.arena.get(r.owner as usize..).unwrap_or_default();
        let (owner_tax_id, owner_name, trade_name, account_type, branch, account) =
            match ACCOUNT_TYPES.get(usize::from(r.kind)) {
                Some(t) => {
                    let [id, name, trade, branch, account] = get_texts::<5>(run);
                    (id, name, trade, *t, branch, account)
                }
                None => {
                    let [id, name, trade, t, branch, account] = get_texts::<6>(run);
                    (id, name, trade, t, branch, account)
                }
            };
        let participant = if r.participant == u16::MAX {
            self.accounts.get(r.account as usize).map_or(u32::MAX, |a| a.participant)
        } else {
            u32::from(r.participant)
        };
        EntryView {
            participant: self.participant_name(participant),
            branch,
            account: Masked(account),
            account_type,
            owner_name: Masked(owner_name),
            owner_type: if r.owner_type == 1 { OwnerType::Legal } else { OwnerType::Natural },
            owner_tax_id: Masked(owner_tax_id),
            trade_name: Masked(trade_name),
            created_at_ms: r.created_at_ms,
            owned_since_ms: r.owned_since_ms,
            request_id: r.request_id,
        }
    }

    /// The key of record `n`.
    fn key_of(&self, n: u32) -> Option<Key> {
        let r = self.records.get(n as usize)?;
        let tag = tag_of(r.key);
        if tag >= TAG_TEXT {
            let kind = KeyType::from_u8(tag - TAG_TEXT)?;
            let mut at = (r.key as u64) as usize;
            return Key::from_trusted(kind, get_str(&self.arena, &mut at));
        }
        let (kind, text) = code_text(r.key)?;
        Key::from_trusted(kind, &text)
    }

    fn entry_of(&self, n: u32) -> Option<Entry> {
        Some(self.view_of(n)?.to_entry(self.key_of(n)?))
    }
}

impl EntryStore for CompactStore {
    fn with_seed(seed: u64) -> Self {
        CompactStore {
            hasher: SeededState(seed),
            index: Table::default(),
            records: HugeVec::new(),
            free_records: Vec::new(),
            arena: String::new(),
            garbage: 0,
            accounts: Vec::new(),
            account_index: Table::default(),
            free_accounts: Vec::new(),
            participants: Vec::new(),
            participant_ids: HashMap::new(),
            last_account: u32::MAX,
        }
    }

    fn len(&self) -> usize {
        self.index.len
    }

    fn reserve(&mut self, additional: usize) {
        let total = self.index.len.saturating_add(additional).min(RECORDS_MAX);
        self.index.reserve_total(total);
        self.records.reserve(total.saturating_sub(self.records.len()));
        // Address space only (pages are touched as texts are written): about 40 bytes of owner
        // and key text per entry, so a bulk load does not copy the arena as it grows.
        self.arena.reserve(additional.saturating_mul(40));
    }

    fn contains_key(&self, key: &Key) -> bool {
        self.find(key).is_some()
    }

    fn get(&self, key: &Key) -> Option<Cow<'_, Entry>> {
        let (_, n) = self.find(key)?;
        Some(Cow::Owned(self.view_of(n)?.to_entry(key.clone())))
    }

    #[inline]
    fn view(&self, key: &Key) -> Option<EntryView<'_>> {
        // One key at a time (the switch's path): the records' slice taken once.
        let records: &[Record] = &self.records;
        let p = probe_of(key);
        let hash = self.hash_probe(p);
        let at = |n: u32| records.get(n as usize);
        let (_, n) = self.index.find(hash, |n| at(n).is_some_and(|r| self.record_matches(r, p)))?;
        Some(self.view_at(at(n)?))
    }

    fn view_many<'s>(&'s self, keys: &[Key], out: &mut Vec<Option<EntryView<'s>>>) {
        self.view_many_piped::<PIPE_DISTANCE, PIPE_RING, true, 0>(keys, out);
    }

    #[inline]
    fn warm(&self, key: &Key, _account: AccountParts<'_>) -> u64 {
        // Only the key: keys of one account usually come together, so its slot is warm.
        let h = self.hash_probe(probe_of(key));
        self.index.slots.get(self.index.home((h >> 32) as u32)).copied().unwrap_or(0)
    }

    fn insert(&mut self, entry: Arc<Entry>) {
        let e = entry.as_ref();
        self.insert_view(&e.key, &EntryView::of(e));
    }

    fn insert_view(&mut self, key: &Key, e: &EntryView<'_>) {
        if self.index.len >= RECORDS_MAX {
            return;
        }
        let account = self.account_for(e);
        self.last_account = account;
        let participant = match self.accounts.get_mut(account as usize) {
            Some(a) => {
                a.keys = a.keys.saturating_add(1);
                u16::try_from(a.participant).unwrap_or(u16::MAX)
            }
            None => u16::MAX,
        };
        // The key text (of a text key) and the entry's texts side by side: a hit on an e-mail
        // reads them together.
        let probe = probe_of(key);
        let code = match probe {
            Probe::Code(c) => c,
            Probe::Text(tag, _) => {
                let at = self.arena.len() as u128;
                put_str(&mut self.arena, key.as_str());
                tagged(tag, at)
            }
        };
        let kind = ACCOUNT_TYPES.iter().position(|t| *t == e.account_type);
        let kind = kind.map_or(ACCOUNT_LONG, |k| k as u8);
        let owner = self.arena.len() as u64;
        let (id, name, trade) = (e.owner_tax_id.0, e.owner_name.0, e.trade_name.0);
        if kind == ACCOUNT_LONG {
            put_texts(&mut self.arena, &[id, name, trade, e.account_type, e.branch, e.account.0]);
        } else {
            put_texts(&mut self.arena, &[id, name, trade, e.branch, e.account.0]);
        }
        let rec = Record {
            key: code,
            created_at_ms: e.created_at_ms,
            owned_since_ms: e.owned_since_ms,
            request_id: e.request_id,
            owner,
            account,
            owner_type: u8::from(e.owner_type == OwnerType::Legal),
            kind,
            participant,
        };
        let n = match self.free_records.pop() {
            Some(n) => {
                if let Some(slot) = self.records.get_mut(n as usize) {
                    *slot = rec;
                }
                n
            }
            None => {
                let n = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
                self.records.push(rec);
                n
            }
        };
        let hash = self.hash_probe(probe);
        self.index.insert(hash, n);
    }

    fn for_each_in_key_order(&self, f: &mut dyn FnMut(&Key, &EntryView<'_>)) {
        let mut all: Vec<(Key, u32)> = Vec::with_capacity(self.len());
        for s in self.index.slots.iter().filter(|s| **s != 0) {
            let n = (*s as u32).wrapping_sub(1);
            if let Some(k) = self.key_of(n) {
                all.push((k, n));
            }
        }
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (k, n) in &all {
            if let Some(v) = self.view_of(*n) {
                f(k, &v);
            }
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Arc<Entry>> {
        let (pos, n) = self.find(key)?;
        let entry = self.view_of(n)?.to_entry(key.clone());
        self.index.remove_at(pos);
        let r = self.records.get(n as usize).copied().unwrap_or_default();
        // The owner bytes, and the key text of a text key, are left behind in the arena.
        let owner_len = [
            &entry.owner_tax_id.0,
            &entry.owner_name.0,
            &entry.trade_name.0,
            &entry.branch,
            &entry.account.0,
        ]
        .iter()
        .map(|s| s.len() + 1)
        .sum::<usize>();
        let key_len = if tag_of(r.key) >= TAG_TEXT { key.as_str().len() + 1 } else { 0 };
        self.garbage = self.garbage.saturating_add(owner_len + key_len);
        if let Some(slot) = self.records.get_mut(n as usize) {
            *slot = Record::default();
        }
        self.free_records.push(n);
        let parts = crate::store::account_parts(&entry);
        if let Some((apos, a)) = self.find_account(parts) {
            let left = match self.accounts.get_mut(a as usize) {
                Some(rec) => {
                    rec.keys = rec.keys.saturating_sub(1);
                    rec.keys
                }
                None => 0,
            };
            if left == 0 {
                self.account_index.remove_at(apos);
                self.free_accounts.push(a);
                if self.last_account == a {
                    self.last_account = u32::MAX;
                }
            }
        }
        Some(Arc::new(entry))
    }

    fn keys_of_account(&self, account: AccountParts<'_>) -> u32 {
        self.account_number(account)
            .and_then(|n| self.accounts.get(n as usize))
            .map_or(0, |a| a.keys)
    }

    fn for_each(&self, f: &mut dyn FnMut(&Entry)) {
        for s in self.index.slots.iter().filter(|s| **s != 0) {
            if let Some(e) = self.entry_of((*s as u32).wrapping_sub(1)) {
                f(&e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_codes_round_trip_to_the_same_text() {
        let texts = [
            "+5511987654321",
            "+12345678",
            "+999999999999999",
            "52998224725",
            "01234567890",
            "11222333000181",
            "00000000000191",
            "8a562c67-ca16-48ba-b074-65581be6f011",
            "00000000-0000-4000-8000-000000000000",
            "ffffffff-ffff-4fff-bfff-ffffffffffff",
        ];
        for t in texts {
            let Ok(k) = Key::parse(t) else { continue };
            let Probe::Code(c) = probe_of(&k) else { panic!("{t} not coded") };
            let (kind, back) = code_text(c).unwrap();
            assert_eq!((kind, back.as_str()), (k.key_type(), t));
        }
        let e = Key::parse("ana@example.com").unwrap();
        assert!(matches!(probe_of(&e), Probe::Text(_, b) if b == b"ana@example.com"));
    }

    #[test]
    fn digits_eight_at_a_time_equal_one_at_a_time() {
        let mut texts: Vec<String> = vec!["0".into(), "9".into(), "10".into(), "99999999".into()];
        texts.push("1".repeat(19));
        texts.push("9".repeat(19));
        let mut x = 0x1234_5678_9abc_def1u64;
        for n in 1..=19usize {
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let t: String =
                    (0..n).map(|i| char::from(b'0' + ((x >> (i * 3)) % 10) as u8)).collect();
                texts.push(t);
            }
        }
        for bad in ["12a4", "1234567/", "12345678:", "123456789012345x", " 1", "1\u{e9}"] {
            texts.push(bad.into());
        }
        for t in &texts {
            let mut buf = [0u8; KEY_LEN_MAX];
            buf.get_mut(..t.len()).unwrap().copy_from_slice(t.as_bytes());
            assert_eq!(digits_at(&buf, 0, t.len()), digits_value(t.as_bytes()), "{t}");
            let mut shifted = [0u8; KEY_LEN_MAX];
            shifted[0] = b'+';
            shifted.get_mut(1..=t.len()).unwrap().copy_from_slice(t.as_bytes());
            assert_eq!(digits_at(&shifted, 1, t.len()), digits_value(t.as_bytes()), "+{t}");
        }
        assert_eq!(digits_at(&[0u8; KEY_LEN_MAX], 0, 0), None);
        assert_eq!(digits_at(&[b'1'; KEY_LEN_MAX], 0, 20), None);
    }

    #[test]
    fn uuid_codes_keep_every_digit_but_the_version() {
        let k = Key::parse("0123abcd-ef45-4678-9abc-def012345678").unwrap();
        let (b, len) = k.text_padded();
        // 31 hex digits: all but the version's `4`.
        let want = tagged(TAG_RANDOM, 0x0012_3abc_def4_5678_9abc_def0_1234_5678_u128);
        assert_eq!(uuid_code(b, len), Some(want));
    }

    /// Every setting of the pipeline gives the answers of one key at a time.
    fn assert_pipelines_agree(store: &CompactStore, keys: &[Key]) {
        let want: Vec<Option<EntryView<'_>>> = keys.iter().map(|k| store.view(k)).collect();
        let mut got = Vec::new();
        for f in [
            CompactStore::view_many_piped::<1, 4, true, 0>,
            CompactStore::view_many_piped::<2, 8, false, 0>,
            CompactStore::view_many_piped::<PIPE_DISTANCE, PIPE_RING, true, 0>,
            CompactStore::view_many_piped::<16, 64, true, 0>,
            // A ring too small for the distance: one key at a time.
            CompactStore::view_many_piped::<8, 16, true, 0>,
        ] {
            f(store, keys, &mut got);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_key_behind_another_with_the_same_hash_bits_is_found_by_the_batch() {
        // Two e-mail keys whose hashes share the top 32 bits (the slots' fingerprint): the
        // batch reads the record of the first slot with those bits, which is the other key's.
        let mut store = CompactStore::with_seed(11);
        let mut seen: HashMap<u32, Key> = HashMap::new();
        let mut pair = None;
        for i in 0..400_000u32 {
            let k = Key::parse(&format!("c{i}@x.co")).unwrap();
            let fp = (store.hash_probe(probe_of(&k)) >> 32) as u32;
            if let Some(first) = seen.insert(fp, k.clone()) {
                pair = Some((first, k));
                break;
            }
        }
        let (first, second) = pair.expect("a 32-bit collision among 400,000 keys");
        let mut keys = vec![first.clone(), second.clone()];
        assert_pipelines_agree(&store, &keys);
        store.insert(Arc::new(Entry::new(first.clone(), "P", "1", "10", "First")));
        // The second key is missing: its first candidate is the first key's record.
        assert_pipelines_agree(&store, &keys);
        assert!(store.view(&second).is_none() && store.view(&first).is_some());
        store.insert(Arc::new(Entry::new(second.clone(), "P", "1", "20", "Second")));
        for i in 0..40 {
            let k = Key::parse(&format!("f{i}@x.co")).unwrap();
            store.insert(Arc::new(Entry::new(k.clone(), "Q", "2", &i.to_string(), "Filler")));
            keys.push(k);
        }
        keys.extend([second.clone(), first.clone(), second.clone()]);
        assert_pipelines_agree(&store, &keys);
        assert_eq!(store.view(&second).map(|v| v.owner_name.0), Some("Second"));
    }

    #[test]
    fn long_and_non_ascii_texts_come_back_whole() {
        let mut store = CompactStore::with_seed(7);
        let name = "Ção Ñandú Ølstad ".repeat(9);
        let key = Key::parse("zé@example.com").unwrap_or_default();
        let mut e = Entry::new(key, "P", "b", "1", &name);
        e.account_type = "X".repeat(300);
        e.branch = "9".repeat(260);
        e.trade_name = Masked("é".repeat(5_000));
        assert!(e.trade_name.0.len() > 0x7ff && name.len() > 0x7f);
        store.insert(Arc::new(e.clone()));
        let back = store.get(&e.key).unwrap().into_owned();
        assert_eq!(back, e);
        assert_eq!(store.keys_of_account(crate::store::account_parts(&e)), 1);
        assert_eq!(store.remove(&e.key).as_deref(), Some(&e));
    }

    #[test]
    fn the_table_finds_what_it_holds_after_growth_and_removal() {
        let mut t = Table::default();
        // Crowded hashes (many share a home) exercise probing and the backward shift.
        let hash = |i: u32| (u64::from(i % 37) << 58) | (u64::from(i) << 32);
        for i in 0..2_000u32 {
            t.insert(hash(i), i);
        }
        for i in (0..2_000u32).step_by(3) {
            let (pos, n) = t.find(hash(i), |n| n == i).unwrap();
            assert_eq!(n, i);
            t.remove_at(pos);
        }
        for i in 0..2_000u32 {
            let found = t.find(hash(i), |n| n == i).map(|(_, n)| n);
            assert_eq!(found, if i % 3 == 0 { None } else { Some(i) }, "{i}");
        }
        assert_eq!(t.len, 2_000 - 667);
    }
}
