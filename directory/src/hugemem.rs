//! A growable array of plain values whose large instances live in anonymous memory maps
//! advised for transparent huge pages, so that random reads over gigabytes of index slots and
//! records do not also walk the page tables on almost every read (with 4 KiB pages a 2 GB
//! table needs about 500,000 page-table entries, far more than the TLB holds; with 2 MiB
//! pages it needs about 1,000).
//!
//! Guarantees: behaves as a `Vec<T>` of plain-old-data values (`bytemuck::Pod`): small arrays
//! (under [`HUGE_MIN_BYTES`]) are ordinary `Vec`s; larger ones are maps of zeroed memory, with
//! address space reserved up to the capacity but memory used only as it is touched. Where the
//! kernel refuses a map or the advice, the array falls back to a `Vec` (same answers, 4 KiB
//! pages). Must not: use `unsafe` (the workspace denies it; the map and the byte casts go
//! through `memmap2` and `bytemuck`'s checked APIs), or change any answer.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use bytemuck::Pod;

/// Arrays of at least this many bytes are kept in huge-page-advised maps.
pub const HUGE_MIN_BYTES: usize = 2 << 20;

static HUGE_PAGES: AtomicBool = AtomicBool::new(true);

/// Whether maps made from now on are advised for huge pages (the default), for the whole
/// process. Off, the same maps get 4 KiB pages: for comparing both on one build, or where the
/// kernel's huge-page compaction stalls are not wanted. Answers never depend on it.
pub fn set_huge_pages(enabled: bool) {
    HUGE_PAGES.store(enabled, Ordering::Relaxed);
}

/// Whether maps are advised for huge pages (see [`set_huge_pages`]).
pub fn huge_pages() -> bool {
    HUGE_PAGES.load(Ordering::Relaxed)
}

enum Buf<T> {
    Heap(Vec<T>),
    /// The map and the number of values in use (the rest of the map is zeroed capacity).
    Map(memmap2::MmapMut, usize),
}

/// The array (see the module documentation).
pub(crate) struct HugeVec<T: Pod> {
    buf: Buf<T>,
    _values: PhantomData<T>,
}

impl<T: Pod> HugeVec<T> {
    /// An empty array.
    pub(crate) fn new() -> Self {
        HugeVec { buf: Buf::Heap(Vec::new()), _values: PhantomData }
    }

    /// `n` zeroed values.
    pub(crate) fn zeroed(n: usize) -> Self {
        let mut v = HugeVec::new();
        v.reserve(n);
        match &mut v.buf {
            Buf::Heap(h) => h.resize(n, T::zeroed()),
            Buf::Map(_, len) => *len = n,
        }
        v
    }

    /// Values the array holds without growing.
    pub(crate) fn capacity(&self) -> usize {
        match &self.buf {
            Buf::Heap(h) => h.capacity(),
            Buf::Map(m, _) => m.len() / std::mem::size_of::<T>().max(1),
        }
    }

    /// Whether the values sit in a huge-page-advised map.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self.buf, Buf::Map(..))
    }

    /// Room for `additional` more values.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let need = self.len().saturating_add(additional);
        if need <= self.capacity() {
            return;
        }
        let size = std::mem::size_of::<T>().max(1);
        let cap = need.max(self.capacity().saturating_mul(2));
        if cap.saturating_mul(size) < HUGE_MIN_BYTES {
            if let Buf::Heap(h) = &mut self.buf {
                h.reserve(additional);
                return;
            }
        }
        match map(cap.saturating_mul(size)) {
            Some(mut m) => {
                let len = self.len();
                let old: &[u8] = bytemuck::cast_slice(self.as_values());
                if let Some(dst) = m.get_mut(..old.len()) {
                    dst.copy_from_slice(old);
                }
                self.buf = Buf::Map(m, len);
            }
            None => {
                let mut h = Vec::with_capacity(cap);
                h.extend_from_slice(self.as_values());
                self.buf = Buf::Heap(h);
            }
        }
    }

    /// Append a value.
    pub(crate) fn push(&mut self, v: T) {
        if self.len() == self.capacity() {
            self.reserve(1);
        }
        match &mut self.buf {
            Buf::Heap(h) => h.push(v),
            Buf::Map(m, len) => {
                let values: &mut [T] = bytemuck::try_cast_slice_mut(&mut m[..]).unwrap_or_default();
                if let Some(slot) = values.get_mut(*len) {
                    *slot = v;
                    *len += 1;
                }
            }
        }
    }

    fn as_values(&self) -> &[T] {
        match &self.buf {
            Buf::Heap(h) => h,
            Buf::Map(m, len) => {
                let values: &[T] = bytemuck::try_cast_slice(&m[..]).unwrap_or_default();
                values.get(..*len).unwrap_or_default()
            }
        }
    }

    fn as_values_mut(&mut self) -> &mut [T] {
        match &mut self.buf {
            Buf::Heap(h) => h,
            Buf::Map(m, len) => {
                let values: &mut [T] = bytemuck::try_cast_slice_mut(&mut m[..]).unwrap_or_default();
                values.get_mut(..*len).unwrap_or_default()
            }
        }
    }
}

/// An anonymous map of `bytes` (zeroed), advised for huge pages; `None` if the kernel refuses.
fn map(bytes: usize) -> Option<memmap2::MmapMut> {
    let m = memmap2::MmapOptions::new().len(bytes).map_anon().ok()?;
    #[cfg(target_os = "linux")]
    if huge_pages() {
        // Advice only: without it the map still works, with 4 KiB pages.
        let _ = m.advise(memmap2::Advice::HugePage);
    }
    Some(m)
}

impl<T: Pod> Deref for HugeVec<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        self.as_values()
    }
}

impl<T: Pod> DerefMut for HugeVec<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_values_mut()
    }
}

impl<T: Pod> Clone for HugeVec<T> {
    fn clone(&self) -> Self {
        let mut v = HugeVec::new();
        v.reserve(self.len());
        match &mut v.buf {
            Buf::Heap(h) => h.extend_from_slice(self),
            Buf::Map(m, len) => {
                let src: &[u8] = bytemuck::cast_slice(self.as_values());
                if let Some(dst) = m.get_mut(..src.len()) {
                    dst.copy_from_slice(src);
                    *len = self.len();
                }
            }
        }
        v
    }
}

impl<T: Pod> Default for HugeVec<T> {
    fn default() -> Self {
        HugeVec::new()
    }
}

impl<T: Pod> fmt::Debug for HugeVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HugeVec")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_holds_what_a_vec_holds_across_the_switch_to_a_map() {
        let mut h: HugeVec<u64> = HugeVec::new();
        let mut v: Vec<u64> = Vec::new();
        for i in 0..(HUGE_MIN_BYTES / 8 + 1_000) as u64 {
            h.push(i * 3);
            v.push(i * 3);
        }
        assert!(h.is_mapped());
        assert_eq!(&h[..], &v[..]);
        h[7] = 1;
        let c = h.clone();
        assert_eq!((c[7], c.len()), (1, v.len()));
        let z: HugeVec<u64> = HugeVec::zeroed(HUGE_MIN_BYTES);
        assert!(z.iter().all(|x| *x == 0) && z.len() == HUGE_MIN_BYTES);
        let small: HugeVec<u64> = HugeVec::zeroed(16);
        assert!(!small.is_mapped() && small.len() == 16);
    }
}
